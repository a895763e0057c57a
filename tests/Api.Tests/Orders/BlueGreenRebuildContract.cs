using System.Net;
using System.Text.Json;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;
using Xunit;

namespace OrdersEs.Api.Tests.Orders;

/// <summary>
/// <c>POST /admin/projections/orders_view/rebuild</c> on a running service under writes: the queries keep answering from
/// the serving generation, whole, until the new one switches in; <c>GET /admin/projections</c> shows both generations;
/// the rebuild writes nothing to the outbox.
/// </summary>
public abstract class BlueGreenRebuildContract(ApiDatabase databases) : IAsyncLifetime
{
    private const string AdminKey = "test-admin-key";
    private ApiFactory? _factory;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_factory is not null) await _factory.DisposeAsync();
        await databases.DropAllAsync();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task A_rebuild_under_writes_keeps_every_order_readable_and_switches_to_the_new_generation()
    {
        if (await databases.UnavailableAsync() is { } reason) Assert.Skip(reason);
        _factory = new ApiFactory(await databases.CreateAsync(), AdminKey, new Dictionary<string, string>
        {
            ["pyfly:eventsourcing:projections:retired-grace"] = "00:00:00",
        });
        var client = _factory.CreateClient();
        var admin = _factory.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Admin-Key", AdminKey);
        var placed = new List<string>();
        for (var i = 0; i < 40; i++) placed.Add((await client.PlaceAsync()).Id);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/orders/{placed[^1]}?minVersion=1")).StatusCode);
        await WaitForAsync(async () => await TotalAsync(client) == placed.Count);
        var lastOutboxId = await OutboxScalarAsync("SELECT COALESCE(MAX(id), 0) FROM orderses_outbox");
        Assert.True(lastOutboxId >= placed.Count, "every placed order went through the outbox");

        var before = await ProjectionAsync(admin);
        Assert.Equal(1, before.GetProperty("version").GetInt32());
        var first = Assert.Single(before.GetProperty("generations").EnumerateArray());
        Assert.Equal(("serving", 1, "orders_view_g1"), (first.GetProperty("state").GetString(), first.GetProperty("generation").GetInt32(),
            first.GetProperty("table").GetString()));

        using var stop = new CancellationTokenSource();
        var during = new List<string>();
        var writer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested) during.Add((await client.PlaceAsync()).Id);
        });
        var rebuilt = await admin.PostAsync("/admin/projections/orders_view/rebuild", null);
        Assert.Equal(HttpStatusCode.OK, rebuilt.StatusCode);
        var answer = await rebuilt.JsonAsync();
        Assert.Contains(answer.GetProperty("generations").EnumerateArray(), g => g.GetProperty("generation").GetInt32() == 2
            && g.GetProperty("reason").GetString() == "rebuild asked for by an operator");

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            // Never a partial read model: every order placed before the rebuild stays listed.
            Assert.True(await TotalAsync(client) >= placed.Count, "a query saw a partial read model during the rebuild");
            var generations = (await ProjectionAsync(admin)).GetProperty("generations").EnumerateArray().ToArray();
            if (generations is [{ } only] && only.GetProperty("generation").GetInt32() == 2 && only.GetProperty("state").GetString() == "serving") break;
            Assert.True(DateTime.UtcNow < deadline, "generation 2 did not take over");
            await Task.Delay(20);
        }
        await stop.CancelAsync();
        await writer;

        var last = (await client.PlaceAsync()).Id;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/orders/{last}?minVersion=1")).StatusCode);
        foreach (var id in placed.Concat(during)) Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/orders/{id}")).StatusCode);
        // The rebuild published nothing again: the outbox got only the messages of the orders placed since.
        Assert.Equal(during.Count + 1, await OutboxScalarAsync($"SELECT COUNT(*) FROM orderses_outbox WHERE id > {lastOutboxId}"));
    }

    private static async Task<int> TotalAsync(HttpClient client) =>
        (await (await client.GetAsync("/api/orders?pageSize=1")).JsonAsync()).GetProperty("totalCount").GetInt32();

    private static async Task<JsonElement> ProjectionAsync(HttpClient admin) =>
        (await (await admin.GetAsync("/admin/projections")).JsonAsync()).EnumerateArray().Single(p => p.GetProperty("name").GetString() == "orders_view");

    // Outbox ids are never reused, and delivered messages are kept until pruned (hours later).
    private async Task<long> OutboxScalarAsync(string sql)
    {
        await using var database = new EventStoreDatabase(StoreUrl.Parse("test", _factory!.DatabaseUrl));
        await using var connection = await database.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come true");
            await Task.Delay(20);
        }
    }
}

public sealed class SqliteBlueGreenRebuildTests() : BlueGreenRebuildContract(new SqliteDatabases());

public sealed class PostgresBlueGreenRebuildTests() : BlueGreenRebuildContract(new PostgresDatabases());
