using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace OrdersEs.Api.Tests.Orders;

/// <summary>
/// <c>GET /api/orders/{id}?atVersion=N</c> and <c>?asOf=time</c>: the order as it was, rebuilt from its events, run
/// against each provider (subclasses below).
/// </summary>
public abstract class OrderHistoryApiContract(ApiFixture fixture)
{
    private ApiFactory Api => fixture.Factory;

    private HttpClient NewTenant() => Api.Client("tenant-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>An order with three versions: placed with SKU-1 (1), SKU-2 added (2), confirmed (3); and its events' times.</summary>
    private static async Task<(string Id, DateTimeOffset[] Times, string[] RawTimes)> ThreeVersionsAsync(HttpClient client)
    {
        var (id, _) = await client.PlaceAsync();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/api/orders/{id}/lines", new { sku = "SKU-2", quantity = 3, unitPrice = 100 })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/api/orders/{id}/confirm", null)).StatusCode);
        var events = (await (await client.GetAsync($"/api/orders/{id}/events")).JsonAsync()).EnumerateArray().ToArray();
        return (id, events.Select(e => e.GetProperty("occurredAt").GetDateTimeOffset()).ToArray(),
            events.Select(e => e.GetProperty("occurredAt").GetString()!).ToArray());
    }

    private static string Rfc3339(DateTimeOffset time) => time.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", CultureInfo.InvariantCulture);

    private static async Task<JsonElement> OkAsync(HttpResponseMessage response, int version)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"\"{version}\"", response.Headers.ETag?.ToString());
        Assert.True(response.Headers.CacheControl is { Private: true, NoCache: true, NoStore: false, MaxAge: null }, $"Cache-Control: {response.Headers.CacheControl}");
        Assert.Contains("X-Tenant-Id", response.Headers.Vary);
        var order = await response.JsonAsync();
        Assert.Equal(version, order.GetProperty("version").GetInt32());
        return order;
    }

    [Fact]
    public async Task At_a_version_answers_the_order_as_it_was_in_the_same_body()
    {
        var client = NewTenant();
        var (id, times, _) = await ThreeVersionsAsync(client);

        var placed = await OkAsync(await client.GetAsync($"/api/orders/{id}?atVersion=1"), 1);
        Assert.Equal(id, placed.GetProperty("id").GetString());
        Assert.Equal("customer-1", placed.GetProperty("customerId").GetString());
        Assert.Equal("EUR", placed.GetProperty("currency").GetString());
        Assert.Equal("Placed", placed.GetProperty("status").GetString());
        var line = Assert.Single(placed.GetProperty("lines").EnumerateArray());
        Assert.Equal(("SKU-1", 2, 1250L, 2500L), (line.GetProperty("sku").GetString(), line.GetProperty("quantity").GetInt32(),
            line.GetProperty("unitPrice").GetInt64(), line.GetProperty("total").GetInt64()));
        Assert.Equal(2500, placed.GetProperty("total").GetInt64());
        Assert.Equal(times[0], placed.GetProperty("placedAt").GetDateTimeOffset());
        Assert.Equal(times[0], placed.GetProperty("updatedAt").GetDateTimeOffset());
        Assert.Equal(TimeSpan.Zero, placed.GetProperty("placedAt").GetDateTimeOffset().Offset);

        var added = await OkAsync(await client.GetAsync($"/api/orders/{id}?atVersion=2"), 2);
        Assert.Equal(("Placed", 2, 2800L), (added.GetProperty("status").GetString(), added.GetProperty("lines").GetArrayLength(), added.GetProperty("total").GetInt64()));
        Assert.Equal(times[0], added.GetProperty("placedAt").GetDateTimeOffset());
        Assert.Equal(times[1], added.GetProperty("updatedAt").GetDateTimeOffset());

        // Straight from the events: no wait for the read model, and the same body it serves once it has caught up.
        var confirmed = await OkAsync(await client.GetAsync($"/api/orders/{id}?atVersion=3"), 3);
        Assert.Equal("Confirmed", confirmed.GetProperty("status").GetString());
        var current = await (await client.GetAsync($"/api/orders/{id}?minVersion=3")).JsonAsync();
        Assert.Equal(current.GetRawText(), confirmed.GetRawText());
    }

    [Fact]
    public async Task A_version_past_the_end_answers_the_latest_state_and_the_version_it_stopped_at()
    {
        var client = NewTenant();
        var (id, times, _) = await ThreeVersionsAsync(client);

        var latest = await OkAsync(await client.GetAsync($"/api/orders/{id}?atVersion=1000"), 3);
        Assert.Equal("Confirmed", latest.GetProperty("status").GetString());
        Assert.Equal(times[2], latest.GetProperty("updatedAt").GetDateTimeOffset());
        await OkAsync(await client.GetAsync($"/api/orders/{id}?atVersion={int.MaxValue}"), 3);
    }

    [Fact]
    public async Task As_of_a_time_answers_the_state_after_the_last_event_at_or_before_it()
    {
        var client = NewTenant();
        var (id, times, raw) = await ThreeVersionsAsync(client);

        // Each event's own time, exactly as /events shows it, includes that event.
        for (var i = 0; i < 3; i++)
        {
            var order = await OkAsync(await client.GetAsync($"/api/orders/{id}?asOf={Uri.EscapeDataString(raw[i])}"), i + 1);
            Assert.Equal(times[i], order.GetProperty("updatedAt").GetDateTimeOffset());
        }
        // Just before the second event: the first only (unless both happened within the same microsecond).
        var justBefore = times[1].AddTicks(-10);
        await OkAsync(await client.GetAsync($"/api/orders/{id}?asOf={Uri.EscapeDataString(Rfc3339(justBefore))}"), times.Count(t => t <= justBefore));
        // The future, with an offset other than Z.
        await OkAsync(await client.GetAsync($"/api/orders/{id}?asOf={Uri.EscapeDataString("2999-01-01T02:00:00+02:00")}"), 3);
    }

    [Fact]
    public async Task As_of_reads_offsets_as_instants_and_a_plus_the_query_decoded_as_a_space()
    {
        var client = NewTenant();
        var (id, times, _) = await ThreeVersionsAsync(client);
        var third = times[2].ToOffset(TimeSpan.FromHours(2));

        var encoded = await OkAsync(await client.GetAsync($"/api/orders/{id}?asOf={Uri.EscapeDataString(Rfc3339(third))}"), 3);
        var unencoded = await OkAsync(await client.GetAsync($"/api/orders/{id}?asOf={Rfc3339(third)}"), 3); // '+' arrives as ' '
        Assert.Equal(encoded.GetRawText(), unencoded.GetRawText());
        var lowerCase = Rfc3339(times[2].ToUniversalTime()).Replace("+00:00", "z", StringComparison.Ordinal).Replace('T', 't');
        await OkAsync(await client.GetAsync($"/api/orders/{id}?asOf={lowerCase}"), 3);
    }

    [Fact]
    public async Task Before_the_order_existed_or_for_an_unknown_order_is_a_404()
    {
        var client = NewTenant();
        var (id, times, _) = await ThreeVersionsAsync(client);

        await (await client.GetAsync($"/api/orders/{id}?asOf={Uri.EscapeDataString(Rfc3339(times[0].AddTicks(-10)))}")).AssertProblemAsync(404, "not-found");
        await (await client.GetAsync($"/api/orders/{id}?asOf=2000-01-01T00:00:00Z")).AssertProblemAsync(404, "not-found");
        var unknown = await (await client.GetAsync("/api/orders/ord_unknown?atVersion=1")).AssertProblemAsync(404, "not-found");
        Assert.Equal("Order", unknown.GetProperty("aggregateType").GetString());
        await (await client.GetAsync("/api/orders/ord_unknown?asOf=2999-01-01T00:00:00Z")).AssertProblemAsync(404, "not-found");
        await (await client.GetAsync($"/api/orders/{new string('x', 65)}?atVersion=1")).AssertProblemAsync(404, "not-found");
    }

    [Fact]
    public async Task Another_tenants_order_is_a_404_at_every_point()
    {
        var owner = NewTenant();
        var (id, _, _) = await ThreeVersionsAsync(owner);

        foreach (var client in new[] { NewTenant(), Api.Client(null) })
        {
            await (await client.GetAsync($"/api/orders/{id}?atVersion=1")).AssertProblemAsync(404, "not-found");
            await (await client.GetAsync($"/api/orders/{id}?atVersion=99")).AssertProblemAsync(404, "not-found");
            await (await client.GetAsync($"/api/orders/{id}?asOf=2999-01-01T00:00:00Z")).AssertProblemAsync(404, "not-found");
        }
        await OkAsync(await owner.GetAsync($"/api/orders/{id}?atVersion=1"), 1);
    }

    [Theory]
    [InlineData("atVersion=0", "atVersion")]
    [InlineData("atVersion=-3", "atVersion")]
    [InlineData("atVersion=abc", "atVersion")]
    [InlineData("atVersion=1.5", "atVersion")]
    [InlineData("asOf=yesterday", "asOf")]
    [InlineData("asOf=", "asOf")]
    [InlineData("asOf=2026-12-07T10:00:00", "asOf")]     // no offset: which time zone?
    [InlineData("asOf=2026-12-07", "asOf")]              // a date
    [InlineData("asOf=2026-12-07%2010:00:00Z", "asOf")]  // a space for T
    [InlineData("asOf=2026-13-07T10:00:00Z", "asOf")]    // month 13
    [InlineData("asOf=2026-12-07T10:00:00%2B25:00", "asOf")]
    [InlineData("asOf=1733565600", "asOf")]
    [InlineData("asOf=12/07/2026%2010:00:00%20%2B00:00", "asOf")]
    public async Task A_bad_version_or_time_is_a_400_naming_the_parameter(string query, string parameter)
    {
        var response = await NewTenant().GetAsync("/api/orders/ord_any?" + query);
        var problem = await response.AssertProblemAsync(400, "validation");
        Assert.Equal([parameter], problem.ErrorFields());
        if (parameter == "asOf") Assert.Contains("RFC 3339", problem.GetProperty("errors").GetProperty("asOf")[0].GetString());
    }

    [Theory]
    [InlineData("atVersion=1&asOf=2026-12-07T10:00:00Z", new[] { "atVersion", "asOf" })]
    [InlineData("minVersion=1&atVersion=1", new[] { "minVersion", "atVersion" })]
    [InlineData("minVersion=1&asOf=2026-12-07T10:00:00Z", new[] { "minVersion", "asOf" })]
    [InlineData("minVersion=1&atVersion=2&asOf=2026-12-07T10:00:00Z", new[] { "minVersion", "atVersion", "asOf" })]
    public async Task Two_ways_of_choosing_the_state_are_a_400_naming_each(string query, string[] parameters)
    {
        var client = NewTenant();
        var (id, _) = await client.PlaceAsync();
        var problem = await (await client.GetAsync($"/api/orders/{id}?{query}")).AssertProblemAsync(400, "validation");
        Assert.Equal(parameters.Order(), problem.ErrorFields().Order());
    }

    [Fact]
    public async Task A_read_from_the_read_model_sets_no_cache_headers()
    {
        var client = NewTenant();
        var (id, _) = await client.PlaceAsync();
        var response = await client.GetAsync($"/api/orders/{id}?minVersion=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(response.Headers.CacheControl);
    }

    [Fact]
    public async Task The_openapi_document_describes_at_version_and_as_of()
    {
        var document = await (await Api.CreateClient().GetAsync("/openapi/v1.json")).JsonAsync();
        var parameters = document.GetProperty("paths").GetProperty("/api/orders/{id}").GetProperty("get").GetProperty("parameters")
            .EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!);

        foreach (var name in new[] { "minVersion", "atVersion", "asOf" })
        {
            Assert.Equal("query", parameters[name].GetProperty("in").GetString());
            Assert.False(string.IsNullOrEmpty(parameters[name].GetProperty("description").GetString()), name);
        }
        Assert.Equal("integer", parameters["atVersion"].GetProperty("schema").GetProperty("type").GetString());
        foreach (var name in new[] { "minVersion", "atVersion" })
            Assert.Equal(1, parameters[name].GetProperty("schema").GetProperty("minimum").GetInt32());
        Assert.Equal(("string", "date-time"), (parameters["asOf"].GetProperty("schema").GetProperty("type").GetString(),
            parameters["asOf"].GetProperty("schema").GetProperty("format").GetString()));
        Assert.Contains("RFC 3339", parameters["asOf"].GetProperty("description").GetString());
    }
}

public sealed class MemoryOrderHistoryApiTests(MemoryApiFixture fixture) : OrderHistoryApiContract(fixture), IClassFixture<MemoryApiFixture>;

public sealed class SqliteOrderHistoryApiTests(SqliteApiFixture fixture) : OrderHistoryApiContract(fixture), IClassFixture<SqliteApiFixture>;

public sealed class PostgresOrderHistoryApiTests(PostgresApiFixture fixture) : OrderHistoryApiContract(fixture), IClassFixture<PostgresApiFixture>;
