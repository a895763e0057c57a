using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;
using Xunit;

namespace OrdersEs.Api.Tests.Orders;

/// <summary>
/// A poison event through the HTTP surface: <c>GET /admin/projections</c> shows it, <c>/health/ready</c> turns degraded
/// naming the projection, <c>POST /admin/projections/{name}/skip/{eventId}</c> parks it and the read model moves on.
/// Each test runs its own service: a held projection would hold every other test's reads.
/// </summary>
public abstract class PoisonEventAdminContract(ApiDatabase databases) : IAsyncLifetime
{
    private const string Projection = "orders_view";
    private const string AdminKey = "test-admin-key";
    private readonly List<ApiFactory> _factories = [];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var factory in _factories) await factory.DisposeAsync();
        await databases.DropAllAsync();
        GC.SuppressFinalize(this);
    }

    private async Task<ApiFactory> StartAsync()
    {
        if (await databases.UnavailableAsync() is { } reason) Assert.Skip(reason);
        var factory = new ApiFactory(await databases.CreateAsync(), AdminKey, new Dictionary<string, string>
        {
            ["pyfly:eventsourcing:projections:failing-degraded-after"] = "00:00:01",
        });
        _factories.Add(factory);
        _ = factory.Server;
        return factory;
    }

    private static HttpClient Admin(ApiFactory factory)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Key", AdminKey);
        return client;
    }

    /// <summary>Writes an event row as another service would, with a payload nothing can decode.</summary>
    private static async Task InsertPoisonAsync(ApiFactory factory, string eventId)
    {
        await using var database = new EventStoreDatabase(StoreUrl.Parse("test", factory.DatabaseUrl));
        await using var connection = await database.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
            VALUES ('{eventId}', 'ord_foreign', 'Order', 1, 'OrderPlaced', '{"{"}not json', '{"{}"}', @at, 1, NULL)
            """;
        var at = database.TimestampParameter(DateTimeOffset.UtcNow);
        at.ParameterName = "@at";
        command.Parameters.Add(at);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<JsonElement> ProjectionAsync(HttpClient admin)
    {
        var list = await (await admin.GetAsync("/admin/projections")).JsonAsync();
        return list.EnumerateArray().Single(p => p.GetProperty("name").GetString() == Projection);
    }

    private static async Task<JsonElement> FailingAsync(HttpClient admin, int attempts = 2)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var failing = (await ProjectionAsync(admin)).GetProperty("failing");
            if (failing.ValueKind == JsonValueKind.Object && failing.GetProperty("attempts").GetInt32() >= attempts) return failing;
            Assert.True(DateTime.UtcNow < deadline, "the projection reported no failing event within 30 s");
            await Task.Delay(50);
        }
    }

    private static async Task<JsonElement> ReadyAsync(HttpClient client)
    {
        var response = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // degraded still serves traffic
        return await response.JsonAsync();
    }

    [Fact]
    public async Task A_poison_event_holds_the_read_model_shows_on_the_admin_view_degrades_readiness_and_can_be_parked()
    {
        var factory = await StartAsync();
        var admin = Admin(factory);
        var tenant = factory.Client("tenant-poison");
        var (first, _) = await tenant.PlaceAsync();
        Assert.Equal(HttpStatusCode.OK, (await tenant.GetAsync($"/api/orders/{first}?minVersion=1")).StatusCode);
        await InsertPoisonAsync(factory, "evt-poison-1");
        var (held, _) = await tenant.PlaceAsync();

        var failing = await FailingAsync(admin);
        Assert.Equal("evt-poison-1", failing.GetProperty("eventId").GetString());
        Assert.Equal("OrderPlaced", failing.GetProperty("eventType").GetString());
        Assert.True(failing.GetProperty("position").GetInt64() > 0);
        Assert.False(string.IsNullOrEmpty(failing.GetProperty("error").GetString()));
        Assert.True(failing.GetProperty("failingSince").GetDateTimeOffset() <= DateTimeOffset.UtcNow);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.GetAsync($"/api/orders/{held}")).StatusCode);

        await Task.Delay(TimeSpan.FromSeconds(1.2));
        var ready = await ReadyAsync(admin);
        Assert.Equal("Degraded", ready.GetProperty("status").GetString());
        var projections = ready.GetProperty("checks").GetProperty("projections");
        Assert.Equal("Degraded", projections.GetProperty("status").GetString());
        Assert.Contains($"'{Projection}'", projections.GetProperty("description").GetString());
        Assert.Contains("evt-poison-1", projections.GetProperty("description").GetString());

        var parked = await admin.PostAsJsonAsync($"/admin/projections/{Projection}/skip/evt-poison-1", new { reason = "row from the legacy importer" });
        Assert.Equal(HttpStatusCode.OK, parked.StatusCode);
        var view = await parked.JsonAsync();
        var skipped = Assert.Single(view.GetProperty("skipped").EnumerateArray());
        Assert.Equal("evt-poison-1", skipped.GetProperty("eventId").GetString());
        Assert.Equal("row from the legacy importer", skipped.GetProperty("reason").GetString());
        Assert.True(skipped.GetProperty("skippedAt").GetDateTimeOffset() <= DateTimeOffset.UtcNow);
        Assert.False(string.IsNullOrEmpty(skipped.GetProperty("error").GetString()));

        Assert.Equal(HttpStatusCode.OK, (await tenant.GetAsync($"/api/orders/{held}?minVersion=1")).StatusCode);
        Assert.Equal(JsonValueKind.Null, (await ProjectionAsync(admin)).GetProperty("failing").ValueKind);
        Assert.Equal("Healthy", (await ReadyAsync(admin)).GetProperty("checks").GetProperty("projections").GetProperty("status").GetString());
        Assert.Single((await ProjectionAsync(admin)).GetProperty("skipped").EnumerateArray());
    }

    [Fact]
    public async Task Parking_needs_a_reason_a_known_projection_and_the_event_it_is_held_at()
    {
        var factory = await StartAsync();
        var admin = Admin(factory);
        await InsertPoisonAsync(factory, "evt-poison-2");
        var (other, _) = await factory.Client("tenant-refusals").PlaceAsync();
        await FailingAsync(admin);

        var noReason = await admin.PostAsJsonAsync($"/admin/projections/{Projection}/skip/evt-poison-2", new { });
        Assert.Contains("reason", (await noReason.AssertProblemAsync(400, "validation")).ErrorFields());
        var nul = await admin.PostAsJsonAsync($"/admin/projections/{Projection}/skip/evt-poison-2", new { reason = "a\u0000b" });
        Assert.Contains("reason", (await nul.AssertProblemAsync(400, "validation")).ErrorFields());
        var unknown = await admin.PostAsJsonAsync("/admin/projections/no_such_projection/skip/evt-poison-2", new { reason = "x" });
        await unknown.AssertProblemAsync(404, "not-found");
        var wrongEvent = await admin.PostAsJsonAsync($"/admin/projections/{Projection}/skip/evt-not-held", new { reason = "x" });
        var conflict = await wrongEvent.AssertProblemAsync(409, "projection-not-held");
        Assert.Contains("evt-poison-2", conflict.GetProperty("detail").GetString());
        var withoutKey = await factory.CreateClient().PostAsJsonAsync($"/admin/projections/{Projection}/skip/evt-poison-2", new { reason = "x" });
        await withoutKey.AssertProblemAsync(401, "unauthorized");

        Assert.Empty((await ProjectionAsync(admin)).GetProperty("skipped").EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, (await factory.Client("tenant-refusals").GetAsync($"/api/orders/{other}")).StatusCode);
    }

    [Fact]
    public async Task The_skip_endpoint_is_declared_with_its_name_summary_body_and_problems()
    {
        var factory = await StartAsync();
        var document = await (await factory.CreateClient().GetAsync("/openapi/v1.json")).JsonAsync();

        var operation = document.GetProperty("paths").GetProperty("/admin/projections/{name}/skip/{eventId}").GetProperty("post");
        Assert.Equal("SkipProjectionEvent", operation.GetProperty("operationId").GetString());
        Assert.False(string.IsNullOrEmpty(operation.GetProperty("summary").GetString()));
        Assert.True(operation.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        var responses = operation.GetProperty("responses");
        foreach (var status in new[] { "200", "400", "401", "404", "409", "503" })
            Assert.True(responses.TryGetProperty(status, out _), $"SkipProjectionEvent declares {status}");
    }

    [Fact]
    public async Task Dead_letters_make_readiness_degraded_with_their_count()
    {
        var factory = await StartAsync();
        var admin = Admin(factory);
        Assert.Equal("Healthy", (await ReadyAsync(admin)).GetProperty("checks").GetProperty("outbox").GetProperty("status").GetString());

        await using (var database = new EventStoreDatabase(StoreUrl.Parse("test", factory.DatabaseUrl)))
        {
            await using var connection = await database.OpenConnectionAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO orderses_outbox_dead_letters (id, event_id, aggregate_id, sequence, event_type, attempts, last_error)
                VALUES (901, 'evt-dead-1', 'ord_dead', 1, 'OrderPlaced', 5, 'broker refused'),
                       (902, 'evt-dead-2', 'ord_dead', 2, 'OrderConfirmed', 5, 'broker refused')
                """;
            await command.ExecuteNonQueryAsync();
        }

        var ready = await ReadyAsync(admin);
        Assert.Equal("Degraded", ready.GetProperty("status").GetString());
        var outbox = ready.GetProperty("checks").GetProperty("outbox");
        Assert.Equal("Degraded", outbox.GetProperty("status").GetString());
        Assert.Contains("2 dead letter(s)", outbox.GetProperty("description").GetString());
    }
}

public sealed class SqlitePoisonEventAdminTests() : PoisonEventAdminContract(new SqliteDatabases());

public sealed class PostgresPoisonEventAdminTests() : PoisonEventAdminContract(new PostgresDatabases());
