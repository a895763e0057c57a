using System.Collections.Concurrent;

namespace OrdersEs.Infrastructure.Snapshots;

/// <summary>Snapshots in process memory; a compare-and-swap loop keeps only the newest per aggregate.</summary>
public sealed class InMemorySnapshotStore : ISnapshotStore
{
    private readonly ConcurrentDictionary<string, Snapshot> _snapshots = new(StringComparer.Ordinal);

    public Task SaveAsync(Snapshot snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        while (true)
        {
            if (_snapshots.TryAdd(snapshot.AggregateId, snapshot)) break;
            if (!_snapshots.TryGetValue(snapshot.AggregateId, out var current)) continue;
            if (current.Sequence >= snapshot.Sequence) break;
            if (_snapshots.TryUpdate(snapshot.AggregateId, snapshot, current)) break;
        }
        return Task.CompletedTask;
    }

    public Task<Snapshot?> LoadAsync(string aggregateId, CancellationToken cancellationToken = default) =>
        Task.FromResult(_snapshots.GetValueOrDefault(aggregateId));
}
