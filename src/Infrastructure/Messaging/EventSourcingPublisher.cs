using System.Globalization;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Messaging;

/// <summary>
/// The EDA bridge: forwards stored-event envelopes to the event bus on one destination (default <c>pyfly.events</c>).
/// Registered only when an event bus is configured.
/// </summary>
/// <remarks>
/// The message body is the envelope's payload exactly as stored (the event's snake_case JSON, no wrapper);
/// the envelope's context travels in string headers: <c>aggregate_id</c>, <c>aggregate_type</c>, <c>sequence</c>,
/// <c>version</c> (the event's schema version), <c>tenant_id</c> (only when the envelope has one), <c>event_type</c>,
/// <c>event_id</c>, <c>occurred_at</c> (UTC, ISO 8601 with microseconds, e.g. <c>2025-01-31T12:00:00.000000+00:00</c>,
/// which Python's <c>datetime.fromisoformat</c> reads), then every metadata entry whose name is none of these.
/// The message id is the event id; the routing key is the event type.
/// </remarks>
public sealed class EventSourcingPublisher
{
    public const string DestinationKey = "pyfly:eventsourcing:eda:destination";
    public const string DefaultDestination = "pyfly.events";

    /// <summary>Header names the envelope owns; metadata entries with these names are not promoted.</summary>
    public static readonly IReadOnlySet<string> ReservedHeaders = new HashSet<string>(StringComparer.Ordinal)
    {
        Headers.AggregateId, Headers.AggregateType, Headers.Sequence, Headers.Version,
        Headers.TenantId, Headers.EventType, Headers.EventId, Headers.OccurredAt,
    };

    private readonly IEventPublisher _publisher;

    public EventSourcingPublisher(IEventPublisher publisher, string destination = DefaultDestination)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        ArgumentException.ThrowIfNullOrWhiteSpace(destination);
        _publisher = publisher;
        Destination = destination;
    }

    /// <summary>The exchange or topic every envelope goes to.</summary>
    public string Destination { get; }

    public Task PublishAsync(StoredEventEnvelope envelope, CancellationToken cancellationToken = default) =>
        _publisher.PublishAsync(ToMessage(envelope, Destination), cancellationToken);

    /// <summary>
    /// Publishes one aggregate's envelopes in the given order, several in flight where the bus keeps their order
    /// (see <see cref="IEventPublisher.PublishInOrderAsync"/>); tells how many, from the first, were accepted.
    /// </summary>
    public Task<PublishOutcome> PublishInOrderAsync(IReadOnlyList<StoredEventEnvelope> envelopes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(envelopes);
        var messages = new EventMessage[envelopes.Count];
        for (var i = 0; i < messages.Length; i++) messages[i] = ToMessage(envelopes[i], Destination);
        return _publisher.PublishInOrderAsync(messages, cancellationToken);
    }

    /// <summary>Publishes in the given order, one at a time; stops at the first failure, leaving the rest unpublished.</summary>
    public async Task PublishAllAsync(IEnumerable<StoredEventEnvelope> envelopes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(envelopes);
        foreach (var envelope in envelopes)
            await PublishAsync(envelope, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The bus message for one envelope, as described on this class.</summary>
    public static EventMessage ToMessage(StoredEventEnvelope envelope, string destination)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var headers = new Dictionary<string, string>(8 + envelope.Metadata.Count, StringComparer.Ordinal)
        {
            [Headers.AggregateId] = envelope.AggregateId,
            [Headers.AggregateType] = envelope.AggregateType,
            [Headers.Sequence] = envelope.Sequence.ToString(CultureInfo.InvariantCulture),
            [Headers.Version] = envelope.SchemaVersion.ToString(CultureInfo.InvariantCulture),
            [Headers.EventType] = envelope.EventType,
            [Headers.EventId] = envelope.EventId,
            [Headers.OccurredAt] = envelope.OccurredAt.ToUniversalTime()
                .ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'+00:00'", CultureInfo.InvariantCulture),
        };
        if (envelope.TenantId is not null) headers[Headers.TenantId] = envelope.TenantId;
        foreach (var (name, value) in envelope.Metadata)
        {
            if (value is not null && !ReservedHeaders.Contains(name)) headers[name] = value;
        }

        return new EventMessage(destination, envelope.EventType, envelope.EventId, envelope.Payload, headers);
    }

    /// <summary>The header names the bridge writes.</summary>
    public static class Headers
    {
        public const string AggregateId = "aggregate_id";
        public const string AggregateType = "aggregate_type";
        public const string Sequence = "sequence";
        public const string Version = "version";
        public const string TenantId = "tenant_id";
        public const string EventType = "event_type";
        public const string EventId = "event_id";
        public const string OccurredAt = "occurred_at";
    }
}
