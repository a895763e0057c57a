using Microsoft.EntityFrameworkCore;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.ReadModels.Orders;
using OrdersEs.Infrastructure.Tests.Projections;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.ReadModels.Orders;

/// <summary>
/// <c>orders_view</c> as the sample's queries read it, on each relational provider: the runner suites use the tests'
/// own read model, so this is where the sample's projection is held to its events.
/// </summary>
public abstract class OrdersViewProjectionTests : OwnsResources
{
    protected abstract Task<ProjectionFixture> CreateFixtureAsync();

    private async Task<ProjectionFixture> FixtureAsync() => Own(await CreateFixtureAsync());

    private static async Task<OrderView> ProjectedAsync(ProjectionFixture fixture, string id)
    {
        var projection = fixture.OrdersView();
        await fixture.StartAsync(projection);
        await fixture.CaughtUpAsync(projection);
        return (await fixture.OrderViewsAsync())[id];
    }

    [Fact]
    public async Task A_placed_order_is_projected_with_customer_currency_tenant_lines_total_and_times()
    {
        var fixture = await FixtureAsync();
        var order = await fixture.PlaceAsync("o-placed", lines: 2, new EventContext("t-1"));

        var view = await ProjectedAsync(fixture, "o-placed");

        var placed = Assert.Single(await fixture.Store.LoadAsync("o-placed"));
        Assert.Equal(("t-1", "customer-o-placed", "EUR", nameof(OrderStatus.Placed), 1), (view.TenantId, view.CustomerId, view.Currency, view.Status, view.Version));
        Assert.Equal([new OrderLine("SKU-1", 1, 100), new OrderLine("SKU-2", 2, 200)], view.Lines());
        Assert.Equal(100 + 2 * 200, view.Total);
        Assert.Equal(order.Total, view.Total);
        Assert.Equal(placed.OccurredAt.UtcDateTime, DateTime.SpecifyKind(view.PlacedAt, DateTimeKind.Utc));
        Assert.Equal(view.PlacedAt, view.UpdatedAt);
    }

    [Fact]
    public async Task Added_and_removed_lines_change_the_lines_and_the_total()
    {
        var fixture = await FixtureAsync();
        var order = await fixture.PlaceAsync("o-lines", lines: 2);
        order.AddLine(new OrderLine("B", 3, 50));
        order.RemoveLine("SKU-1");
        await fixture.OrderRepository().SaveAsync(order);

        var view = await ProjectedAsync(fixture, "o-lines");

        Assert.Equal([new OrderLine("SKU-2", 2, 200), new OrderLine("B", 3, 50)], view.Lines());
        Assert.Equal(order.Lines, view.Lines());
        Assert.Equal(2 * 200 + 3 * 50, view.Total);
        Assert.Equal((3, nameof(OrderStatus.Placed)), (view.Version, view.Status));
        var events = await fixture.Store.LoadAsync("o-lines");
        Assert.Equal(events[^1].OccurredAt.UtcDateTime, DateTime.SpecifyKind(view.UpdatedAt, DateTimeKind.Utc));
        Assert.Equal(events[0].OccurredAt.UtcDateTime, DateTime.SpecifyKind(view.PlacedAt, DateTimeKind.Utc));
    }

    [Fact]
    public async Task Confirm_ship_and_cancel_set_the_status()
    {
        var fixture = await FixtureAsync();
        var confirmed = await fixture.PlaceAsync("o-confirmed");
        confirmed.Confirm();
        var shipped = await fixture.PlaceAsync("o-shipped");
        shipped.Confirm();
        shipped.Ship("T-1");
        var cancelled = await fixture.PlaceAsync("o-cancelled");
        cancelled.Confirm();
        cancelled.Cancel("changed my mind");
        foreach (var order in new[] { confirmed, shipped, cancelled }) await fixture.OrderRepository().SaveAsync(order);

        await ProjectedAsync(fixture, "o-confirmed");
        var views = await fixture.OrderViewsAsync();

        Assert.Equal((nameof(OrderStatus.Confirmed), 2), (views["o-confirmed"].Status, views["o-confirmed"].Version));
        Assert.Equal((nameof(OrderStatus.Shipped), 3), (views["o-shipped"].Status, views["o-shipped"].Version));
        Assert.Equal((nameof(OrderStatus.Cancelled), 3), (views["o-cancelled"].Status, views["o-cancelled"].Version));
        Assert.All(views.Values, v => Assert.Equal(100, v.Total));
    }

    [Fact]
    public async Task Redelivered_order_events_are_ignored_whole_or_one_by_one()
    {
        var fixture = await FixtureAsync();
        var order = await fixture.PlaceAsync("o-dup");
        order.AddLine(new OrderLine("B", 1, 50));
        order.Confirm();
        await fixture.OrderRepository().SaveAsync(order);
        var events = await fixture.Store.LoadAsync("o-dup");
        var projection = fixture.OrdersView();

        var checkpoint = await projection.ApplyAsync(events, await projection.LoadCheckpointAsync(default), default);
        var checkpointName = await fixture.ServingCheckpointAsync(projection.Name);
        await fixture.Checkpoints.ResetAsync(checkpointName, default);
        var again = await projection.ApplyAsync(events, GlobalCheckpoint.Start, default);
        await fixture.Checkpoints.ResetAsync(checkpointName, default);
        await projection.ApplyAsync([events[1]], GlobalCheckpoint.Start, default);

        var view = (await fixture.OrderViewsAsync())["o-dup"];
        Assert.Equal((3, 150L, 2, nameof(OrderStatus.Confirmed)), (view.Version, view.Total, view.Lines().Count, view.Status));
        Assert.Equal(checkpoint, again);
    }

    [Fact]
    public async Task Events_of_other_aggregates_are_passed_over_without_being_decoded()
    {
        var fixture = await FixtureAsync();
        await fixture.InsertForeignRowAsync("evt-other-1", "other-1", "SomethingElseHappened", "{not json", aggregateType: "Warehouse");
        await fixture.PlaceAsync("o-after");
        var projection = fixture.OrdersView();
        await fixture.StartAsync(projection);

        await fixture.CaughtUpAsync(projection);

        Assert.Equal(["o-after"], (await fixture.OrderViewsAsync()).Keys);
        Assert.Null(fixture.Monitor.Find(projection.Name)!.Failure);
    }

    [Fact]
    public async Task Rebuild_replays_orders_view_from_the_first_event()
    {
        var fixture = await FixtureAsync();
        var projection = fixture.OrdersView();
        await fixture.StartAsync(projection);
        await fixture.StartBuilderAsync();
        var order = await fixture.PlaceAsync("o-rebuilt", lines: 2);
        order.RemoveLine("SKU-2");
        await fixture.OrderRepository().SaveAsync(order);
        await fixture.CaughtUpAsync(projection);
        var first = await fixture.Generations.ServingAsync(projection.Name, default);
        await using (var db = await fixture.Database.CreateContextAsync<OrdersViewDbContext>(first))
            await db.Orders.ExecuteUpdateAsync(s => s.SetProperty(o => o.Total, 0L).SetProperty(o => o.LinesJson, "[]"));

        Assert.True(await fixture.Monitor.RebuildAsync(projection.Name, CancellationToken.None));
        Assert.True(await fixture.Monitor.WaitUntilAsync(
            async ct => (await fixture.Generations.ServingAsync(projection.Name, ct)).Generation > first.Generation, TimeSpan.FromSeconds(30), default));
        await fixture.CaughtUpAsync(projection);

        var view = (await fixture.OrderViewsAsync())["o-rebuilt"];
        Assert.Equal([new OrderLine("SKU-1", 1, 100)], view.Lines());
        Assert.Equal((100L, 2), (view.Total, view.Version));
    }
}

public sealed class SqliteOrdersViewProjectionTests : OrdersViewProjectionTests
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.SqliteAsync(OrdersFixture.Feature);
}

public sealed class PostgresOrdersViewProjectionTests : OrdersViewProjectionTests
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.PostgresAsync(OrdersFixture.Feature);
}
