using System.Text.Json.Nodes;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.ReadModels.Orders;
using OrdersEs.Infrastructure.Tests.Projections;
using OrdersEs.Tests.Pyfly;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.ReadModels.Orders;

/// <summary><c>orders_view</c> over orders a pyfly service wrote into the shared table (its row format, its JSON).</summary>
public abstract class PyflyEventProjectionTests : OwnsResources
{
    protected abstract Task<ProjectionFixture> CreateFixtureAsync();

    private static PyflyTable Pyfly(ProjectionFixture fixture) =>
        new(async () => await fixture.Database.OpenConnectionAsync(), fixture.Database.Provider == DatabaseProvider.Sqlite);

    private static JsonObject Placed(string id, bool withCurrency = true)
    {
        var payload = new JsonObject
        {
            ["order_id"] = id,
            ["customer_id"] = "py-customer",
            ["lines"] = new JsonArray(new JsonObject { ["sku"] = "PY-1", ["quantity"] = 3, ["unit_price"] = 250 }),
        };
        if (withCurrency) payload["currency"] = "EUR";
        return payload;
    }

    [Fact]
    public async Task An_order_pyfly_wrote_is_projected_with_its_lines_tenant_and_time()
    {
        var fixture = Own(await CreateFixtureAsync());
        var at = new DateTimeOffset(2026, 7, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(1_234_560);
        await Pyfly(fixture).AppendAsync("py-order-1", "Order",
            [new PyflyEvent("OrderPlaced", Placed("py-order-1"), at, TenantId: "t-py"),
             new PyflyEvent("OrderConfirmed", new JsonObject { ["order_id"] = "py-order-1" }, at.AddSeconds(1), TenantId: "t-py")], 0);
        var projection = fixture.OrdersView();
        await fixture.StartAsync(projection);

        await fixture.CaughtUpAsync(projection);
        var view = (await fixture.OrderViewsAsync())["py-order-1"];
        Assert.Equal(("t-py", "py-customer", "EUR", "Confirmed", 750L, 2), (view.TenantId, view.CustomerId, view.Currency, view.Status, view.Total, view.Version));
        Assert.Equal(at.UtcDateTime, DateTime.SpecifyKind(view.PlacedAt, DateTimeKind.Utc));
    }

    [Fact]
    public async Task A_pyfly_event_lacking_a_required_member_is_reported_by_the_projection_never_projected_with_nulls()
    {
        var fixture = Own(await CreateFixtureAsync());
        var written = await Pyfly(fixture).AppendAsync("py-order-2", "Order",
            [new PyflyEvent("OrderPlaced", Placed("py-order-2", withCurrency: false), DateTimeOffset.UtcNow)], 0);
        await fixture.StartAsync(fixture.OrdersView());

        var reported = await fixture.Monitor.WaitUntilAsync(
            _ => Task.FromResult(fixture.Monitor.Find(OrdersViewProjection.ProjectionName)?.LastError is { } error
                && error.Contains(written[0].EventId) && error.Contains("currency")),
            TimeSpan.FromSeconds(20), CancellationToken.None);
        Assert.True(reported, $"the projection reported: {fixture.Monitor.Find(OrdersViewProjection.ProjectionName)?.LastError}");
        Assert.DoesNotContain("py-order-2", (await fixture.OrderViewsAsync()).Keys);
    }
}

public sealed class SqlitePyflyEventProjectionTests : PyflyEventProjectionTests
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.SqliteAsync(OrdersFixture.Feature);
}

public sealed class PostgresPyflyEventProjectionTests : PyflyEventProjectionTests
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.PostgresAsync(OrdersFixture.Feature);
}
