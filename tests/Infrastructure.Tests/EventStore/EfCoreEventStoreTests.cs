using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;

namespace OrdersEs.Infrastructure.Tests.EventStore;

public sealed class SqliteEventStoreTests : EventStoreContract
{
    protected override Task<IEventStore> CreateStoreAsync(UpcasterChain? upcasters = null)
    {
        var database = Own(TestDatabases.CreateSqlite());
        return Task.FromResult<IEventStore>(new EfCoreEventStore(database.Database, TestKernel.Envelopes(), upcasters));
    }
}

public sealed class PostgresEventStoreTests : EventStoreContract
{
    protected override async Task<IEventStore> CreateStoreAsync(UpcasterChain? upcasters = null)
    {
        var database = Own(await TestDatabases.CreatePostgresAsync());
        return new EfCoreEventStore(database.Database, TestKernel.Envelopes(), upcasters);
    }
}
