using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Infrastructure.Tests.EventStore;

public sealed class InMemoryEventStoreTests : EventStoreContract
{
    protected override Task<IEventStore> CreateStoreAsync(UpcasterChain? upcasters = null) =>
        Task.FromResult<IEventStore>(new InMemoryEventStore(TestKernel.Envelopes(), upcasters));
}
