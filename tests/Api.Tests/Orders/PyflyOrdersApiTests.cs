using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrdersEs.Tests.Pyfly;
using Xunit;

namespace OrdersEs.Api.Tests.Orders;

/// <summary>
/// Orders a pyfly v26.07 service writes into the shared <c>pyfly_event_store</c> (<see cref="PyflyTable"/>: its SQL
/// and JSON) are served, projected and commanded through the API, and pyfly reads back the events the API wrote.
/// </summary>
public abstract class PyflyOrdersApiContract(ApiFixture fixture)
{
    private static JsonObject Placed(string id, bool withCurrency = true)
    {
        var payload = new JsonObject
        {
            ["order_id"] = id,
            ["customer_id"] = "py-customer-" + id,
            ["lines"] = new JsonArray(new JsonObject { ["sku"] = "PY-1", ["quantity"] = 2, ["unit_price"] = 1250 }),
        };
        if (withCurrency) payload["currency"] = "EUR";
        return payload;
    }

    private static string NewId() => "py_" + Guid.NewGuid().ToString("N");

    /// <summary>pyfly beside the running service: once the service answers ready its schema is in place; pyfly's DDL then leaves it be.</summary>
    private static async Task<PyflyTable> PyflyBesideAsync(ApiFactory api)
    {
        Assert.Equal(HttpStatusCode.OK, (await api.Client(null).GetAsync("/health/ready")).StatusCode);
        var pyfly = PyflyTable.ForUrl(api.DatabaseUrl);
        await pyfly.InitializeAsync();
        return pyfly;
    }

    [Fact]
    public async Task An_order_pyfly_wrote_is_loadable_listed_and_accepts_commands_and_pyfly_reads_the_answer_back()
    {
        var api = fixture.Factory;
        var pyfly = await PyflyBesideAsync(api);
        var tenant = "tenant-" + Guid.NewGuid().ToString("N")[..12];
        var client = api.Client(tenant);
        var id = NewId();
        await pyfly.AppendAsync(id, "Order", [new PyflyEvent("OrderPlaced", Placed(id), DateTimeOffset.UtcNow,
            new JsonObject { ["correlation_id"] = "py-corr" }, tenant)], 0);

        var order = await (await client.GetAsync($"/api/orders/{id}?minVersion=1")).EnsureSuccessStatusCode().JsonAsync();
        Assert.Equal(("py-customer-" + id, "EUR", "Placed", 2500L, 1),
            (order.GetProperty("customerId").GetString(), order.GetProperty("currency").GetString(), order.GetProperty("status").GetString(),
             order.GetProperty("total").GetInt64(), order.GetProperty("version").GetInt32()));
        var page = await (await client.GetAsync($"/api/orders?customerId=py-customer-{id}")).EnsureSuccessStatusCode().JsonAsync();
        Assert.Equal(id, Assert.Single(page.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        var events = await (await client.GetAsync($"/api/orders/{id}/events")).EnsureSuccessStatusCode().JsonAsync();
        var placed = Assert.Single(events.EnumerateArray());
        Assert.Equal("PY-1", placed.GetProperty("payload").GetProperty("lines")[0].GetProperty("sku").GetString());
        Assert.Equal("py-corr", placed.GetProperty("metadata").GetProperty("correlation_id").GetString());

        var confirm = await client.PostAsync($"/api/orders/{id}/confirm", null);
        Assert.Equal(HttpStatusCode.OK, confirm.StatusCode);
        Assert.Equal(2, (await confirm.JsonAsync()).GetProperty("version").GetInt32());

        var replayed = (await pyfly.RepositoryLoadAsync(id, "Order"))!;
        Assert.Equal(["OrderPlaced", "OrderConfirmed"], replayed.Select(e => e.EventType));
        var confirmed = replayed[1];
        Assert.Equal((2, 1, tenant), (confirmed.Sequence, confirmed.Version, confirmed.TenantId));
        Assert.Equal(id, confirmed.Payload["order_id"]!.GetValue<string>());
        Assert.Equal(confirm.Headers.GetValues("X-Correlation-Id").Single(), confirmed.Metadata["correlation_id"]!.GetValue<string>());

        await pyfly.AppendAsync(id, "Order", [new PyflyEvent("OrderShipped",
            new JsonObject { ["order_id"] = id, ["tracking_number"] = "PY-TRACK" }, DateTimeOffset.UtcNow, TenantId: tenant)], 2);
        var shipped = await (await client.GetAsync($"/api/orders/{id}?minVersion=3")).EnsureSuccessStatusCode().JsonAsync();
        Assert.Equal(("Shipped", 3), (shipped.GetProperty("status").GetString(), shipped.GetProperty("version").GetInt32()));
    }

    [Fact]
    public async Task A_command_on_an_order_whose_pyfly_event_lacks_a_member_is_a_problem_naming_event_and_member()
    {
        // A database of its own: the undecodable event holds this service's projection back.
        if (await fixture.Databases.UnavailableAsync() is { } reason) Assert.Skip(reason);
        await using var api = new ApiFactory(await fixture.Databases.CreateAsync());
        var pyfly = await PyflyBesideAsync(api);
        var id = NewId();
        var written = await pyfly.AppendAsync(id, "Order", [new PyflyEvent("OrderPlaced", Placed(id, withCurrency: false), DateTimeOffset.UtcNow)], 0);

        var response = await api.Client(null).PostAsync($"/api/orders/{id}/confirm", null);
        var problem = await response.AssertProblemAsync(500, "stored-event-unreadable");
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains(written[0].EventId, detail);
        Assert.Contains("OrderPlaced", detail);
        Assert.Contains("'currency'", detail);

        var shipped = await api.Client(null).PostAsJsonAsync($"/api/orders/{id}/ship", new { trackingNumber = "T-1" });
        await shipped.AssertProblemAsync(500, "stored-event-unreadable");
        Assert.Empty((await pyfly.LoadAsync(id)).Skip(1)); // nothing was appended on top of it
    }
}

public sealed class SqlitePyflyOrdersApiTests(SqliteApiFixture fixture) : PyflyOrdersApiContract(fixture), IClassFixture<SqliteApiFixture>;

public sealed class PostgresPyflyOrdersApiTests(PostgresApiFixture fixture) : PyflyOrdersApiContract(fixture), IClassFixture<PostgresApiFixture>;
