using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Snapshots.EfCore;

/// <summary>The durable snapshot store on PostgreSQL or SQLite (<c>pyfly_snapshots</c>).</summary>
public sealed class EfCoreSnapshotStore(EventStoreDatabase database) : ISnapshotStore
{
    private readonly EventStoreDatabase _database = database;

    public Task SaveAsync(Snapshot snapshot, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public Task<Snapshot?> LoadAsync(string aggregateId, CancellationToken cancellationToken = default) => throw new NotImplementedException();
}
