using Npgsql;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore.EfCore;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.EventStore;

/// <summary>
/// The global-order read walks the <c>(transaction_id, global_position)</c> index in order on PostgreSQL: a plan that
/// sorts instead reads and sorts every event after the checkpoint for each batch, so catch-up slows as the store grows.
/// </summary>
public sealed class GlobalOrderPlanTests : OwnsResources
{
    [Fact]
    public async Task The_read_of_the_global_order_follows_the_index_without_sorting()
    {
        var database = Own(await TestDatabases.CreatePostgresAsync());
        var store = new EfCoreEventStore(database.Database, TestKernel.Envelopes());
        for (var i = 0; i < 3; i++) await store.AppendAsync($"c-{i}", "Counter", [new ThingHappened("x", 1)], 0);
        // Any checkpoint past the start will do: the plan is what matters, and ReadAllAsync may still hold these rows
        // back while another test's transaction on the same server is open (the gap-safe visibility rule).
        var checkpoint = new GlobalCheckpoint(CommitId: 1, Position: 1);

        await using var connection = (NpgsqlConnection)await database.Database.DataSource.OpenConnectionAsync(TestContext.Current.CancellationToken);
        // On a table this small the planner may prefer to sort anyway: with sorts and other scans discouraged, an ORDER BY
        // the index can serve plans without a Sort node, while one it cannot serve still needs one.
        await using (var discourage = new NpgsqlCommand("SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off", connection))
            await discourage.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        await using var explain = (NpgsqlCommand)EfCoreEventStore.PostgresAppend.ReadAllCommand(connection, checkpoint, 500);
        explain.CommandText = "EXPLAIN (FORMAT TEXT) " + explain.CommandText;
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync(TestContext.Current.CancellationToken))
            while (await reader.ReadAsync(TestContext.Current.CancellationToken)) plan.Add(reader.GetString(0));

        var text = string.Join('\n', plan);
        Assert.Contains("pyfly_event_store_global_order_idx", text);
        Assert.DoesNotContain("Sort", text);
    }
}
