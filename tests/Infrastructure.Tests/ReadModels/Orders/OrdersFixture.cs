using Microsoft.EntityFrameworkCore;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.ReadModels.Orders;
using OrdersEs.Infrastructure.Tests.Projections;

namespace OrdersEs.Infrastructure.Tests.ReadModels.Orders;

/// <summary>
/// The sample feature on a <see cref="ProjectionFixture"/>: the order events and <c>orders_view</c>. This folder is the
/// only place the infrastructure tests name the sample, so a service generated without it drops the folder whole.
/// </summary>
internal static class OrdersFixture
{
    /// <summary>What a fixture hosts for the sample: <c>orders_view</c> and the events of the order aggregate.</summary>
    public static HostedFeature Feature { get; } = new([new OrdersViewSchema()], [typeof(Order).Assembly]);

    public static OrdersViewProjection OrdersView(this ProjectionFixture fixture) => new(fixture.Database, fixture.Checkpoints, fixture.Serializer);

    public static EventSourcedRepository<Order> OrderRepository(this ProjectionFixture fixture) =>
        new(fixture.Store, fixture.Serializer, () => new Order());

    /// <summary>The rows of <c>orders_view</c> by order id.</summary>
    public static async Task<Dictionary<string, OrderView>> OrderViewsAsync(this ProjectionFixture fixture)
    {
        await using var db = await fixture.Database.CreateContextAsync<OrdersViewDbContext>();
        return await db.Orders.ToDictionaryAsync(o => o.Id);
    }

    /// <summary>Places an order of <paramref name="lines"/> lines (SKU-i: i x 100 i) for <c>customer-{id}</c> in EUR.</summary>
    public static async Task<Order> PlaceAsync(this ProjectionFixture fixture, string id, int lines = 1, EventContext? context = null)
    {
        var order = Order.Place(id, "customer-" + id, "EUR", Enumerable.Range(1, lines).Select(i => new OrderLine($"SKU-{i}", i, 100 * i)).ToArray());
        await fixture.OrderRepository().SaveAsync(order, context);
        return order;
    }
}
