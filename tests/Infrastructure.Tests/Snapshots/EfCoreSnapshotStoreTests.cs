using OrdersEs.Infrastructure.Snapshots;
using OrdersEs.Infrastructure.Snapshots.EfCore;

namespace OrdersEs.Infrastructure.Tests.Snapshots;

public sealed class SqliteSnapshotStoreTests : SnapshotStoreContract
{
    protected override Task<ISnapshotStore> CreateStoreAsync() =>
        Task.FromResult<ISnapshotStore>(new EfCoreSnapshotStore(Own(TestDatabases.CreateSqlite()).Database));
}

public sealed class PostgresSnapshotStoreTests : SnapshotStoreContract
{
    protected override async Task<ISnapshotStore> CreateStoreAsync() =>
        new EfCoreSnapshotStore(Own(await TestDatabases.CreatePostgresAsync()).Database);
}
