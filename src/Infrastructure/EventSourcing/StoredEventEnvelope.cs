using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>
/// One stored event as the store keeps it: identity, stream position, the serialized payload and its context.
/// <see cref="GlobalPosition"/> and <see cref="CommitId"/> are set once stored; together they order the global stream.
/// </summary>
public sealed record StoredEventEnvelope
{
    public required string EventId { get; init; }
    public required string AggregateId { get; init; }
    public required string AggregateType { get; init; }
    public required int Sequence { get; init; }
    public required string EventType { get; init; }
    /// <summary>The event as snake_case JSON.</summary>
    public required string Payload { get; init; }
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = EventMetadata.Empty;
    public required DateTimeOffset OccurredAt { get; init; }
    /// <summary>Schema version of the event's payload; starts at 1 and is raised by upcasters.</summary>
    public int SchemaVersion { get; init; } = 1;
    public string? TenantId { get; init; }
    /// <summary>Position in the global order; 0 until stored.</summary>
    public long GlobalPosition { get; init; }
    /// <summary>The committing transaction's id where the store has one (PostgreSQL), else 0.</summary>
    public long CommitId { get; init; }

    /// <summary>The checkpoint a reader holds after handling this envelope.</summary>
    public GlobalCheckpoint Checkpoint => new(CommitId, GlobalPosition);
}

/// <summary>
/// A place in the global order: events are ordered by (<see cref="CommitId"/>, <see cref="Position"/>).
/// Stores without transaction ids keep <see cref="CommitId"/> at 0, so the position alone orders them.
/// </summary>
public readonly record struct GlobalCheckpoint(long CommitId, long Position) : IComparable<GlobalCheckpoint>
{
    /// <summary>Before the first event.</summary>
    public static GlobalCheckpoint Start => default;

    public int CompareTo(GlobalCheckpoint other) =>
        CommitId != other.CommitId ? CommitId.CompareTo(other.CommitId) : Position.CompareTo(other.Position);

    public static bool operator <(GlobalCheckpoint left, GlobalCheckpoint right) => left.CompareTo(right) < 0;
    public static bool operator >(GlobalCheckpoint left, GlobalCheckpoint right) => left.CompareTo(right) > 0;
    public static bool operator <=(GlobalCheckpoint left, GlobalCheckpoint right) => left.CompareTo(right) <= 0;
    public static bool operator >=(GlobalCheckpoint left, GlobalCheckpoint right) => left.CompareTo(right) >= 0;

    public override string ToString() => CommitId == 0 ? Position.ToString() : $"{CommitId}:{Position}";
}

/// <summary>Well-known metadata keys and the context a caller passes with an append.</summary>
public static class EventMetadata
{
    public const string CorrelationId = "correlation_id";
    public const string CausationId = "causation_id";
    public const string TenantId = "tenant_id";

    public static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();
}

/// <summary>
/// What an append knows beyond the events: who asked, for which tenant, and why (stored as metadata), and a write
/// that must commit with the events (<see cref="Participant"/>, not stored).
/// </summary>
public sealed record EventContext(
    string? TenantId = null,
    string? CorrelationId = null,
    string? CausationId = null,
    IReadOnlyDictionary<string, string>? Extra = null)
{
    /// <summary>Runs in the append's transaction where the store has one (see <see cref="IAppendParticipant"/>).</summary>
    public IAppendParticipant? Participant { get; init; }

    public static readonly EventContext None = new();

    /// <summary>The metadata object stored with every event of the append.</summary>
    public IReadOnlyDictionary<string, string> ToMetadata()
    {
        if (TenantId is null && CorrelationId is null && CausationId is null && Extra is null)
            return EventMetadata.Empty;
        var metadata = Extra is null ? new Dictionary<string, string>() : new Dictionary<string, string>(Extra);
        if (CorrelationId is not null) metadata[EventMetadata.CorrelationId] = CorrelationId;
        if (CausationId is not null) metadata[EventMetadata.CausationId] = CausationId;
        if (TenantId is not null) metadata[EventMetadata.TenantId] = TenantId;
        return metadata;
    }
}
