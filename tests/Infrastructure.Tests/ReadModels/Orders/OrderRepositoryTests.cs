using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Snapshots;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.ReadModels.Orders;

/// <summary>The sample's aggregate through the kernel's repository: its events and its snapshot (lines, an enum) round-trip.</summary>
public class OrderRepositoryTests
{
    [Fact]
    public async Task Order_round_trips_through_repository_with_snapshots()
    {
        var serializer = new EventSerializer(new EventTypeRegistry().RegisterAssembly(typeof(Order).Assembly));
        var store = new InMemoryEventStore(new EnvelopeFactory(serializer, TimeProvider.System));
        var repository = new EventSourcedRepository<Order>(store, serializer, () => new Order(), new InMemorySnapshotStore(),
            new RepositoryOptions { SnapshotInterval = 2 });
        var order = Order.Place("o-1", "c-1", "EUR", [new OrderLine("A", 2, 100)]);
        order.AddLine(new OrderLine("B", 1, 50));
        order.Confirm();
        await repository.SaveAsync(order);

        var loaded = (await repository.LoadAsync("o-1"))!;
        Assert.Equal(OrderStatus.Confirmed, loaded.Status);
        Assert.Equal(250, loaded.Total);
        Assert.Equal(3, loaded.Version);
        loaded.Ship("T-1");
        await repository.SaveAsync(loaded);
        Assert.Equal(OrderStatus.Shipped, (await repository.LoadAsync("o-1"))!.Status);
    }
}
