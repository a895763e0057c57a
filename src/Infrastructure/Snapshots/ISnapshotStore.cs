namespace OrdersEs.Infrastructure.Snapshots;

/// <summary>An aggregate's state at <see cref="Sequence"/>, serialized, with the schema version of that state.</summary>
public sealed record Snapshot(
    string AggregateId,
    string AggregateType,
    int Sequence,
    string Payload,
    DateTimeOffset CreatedAt,
    int SchemaVersion = 1);

/// <summary>Keeps the latest snapshot of each aggregate; a save never replaces a newer one.</summary>
public interface ISnapshotStore
{
    /// <summary>Stores the snapshot unless one with the same or a later sequence is already stored.</summary>
    Task SaveAsync(Snapshot snapshot, CancellationToken cancellationToken = default);

    Task<Snapshot?> LoadAsync(string aggregateId, CancellationToken cancellationToken = default);
}
