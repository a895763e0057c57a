using OrdersEs.Infrastructure.Snapshots;

namespace OrdersEs.Infrastructure.Tests.Snapshots;

public sealed class InMemorySnapshotStoreTests : SnapshotStoreContract
{
    protected override Task<ISnapshotStore> CreateStoreAsync() => Task.FromResult<ISnapshotStore>(new InMemorySnapshotStore());
}
