using System.Collections.Concurrent;
using Npgsql;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Projections;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Projections;

/// <summary>
/// The bug every mature store shipped (SEMANTICS 6): on PostgreSQL a position is taken at insert and becomes
/// visible at commit, so a plain position poll skips a late commit. Ours must deliver it, and must not stall
/// for ever on a transaction that rolled back.
/// </summary>
public sealed class PostgresGapTests : OwnsResources
{
    private const string SlowInsert = """
        INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version)
        VALUES ($1, $1, 'Counter', 1, 'ThingHappened', '{"thing_name": "x", "how_many": 1}', '{}', now() AT TIME ZONE 'utc', 1)
        """;

    private static async Task<NpgsqlTransaction> BeginSlowAppendAsync(NpgsqlConnection connection, string aggregateId)
    {
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var insert = new NpgsqlCommand(SlowInsert, connection, transaction) { Parameters = { new() { Value = aggregateId } } };
        await insert.ExecuteNonQueryAsync();
        return transaction;
    }

    private async Task<ProjectionFixture> FixtureAsync()
    {
        var fixture = Own(await ProjectionFixture.PostgresAsync());
        await fixture.Database.EnsureSchemaAsync();
        return fixture;
    }

    [Fact]
    public async Task An_append_that_commits_late_with_a_lower_position_is_still_projected()
    {
        var fixture = await FixtureAsync();
        var seen = new ConcurrentQueue<StoredEventEnvelope>();
        var projection = new FunctionProjection("gap", (e, _) => { seen.Enqueue(e); return Task.CompletedTask; });
        await fixture.TallyAsync("before");
        await fixture.StartAsync(projection);
        await fixture.CaughtUpAsync(projection);

        await using var slowConnection = new NpgsqlConnection(fixture.Database.Connection.ConnectionString);
        await using var slow = await BeginSlowAppendAsync(slowConnection, "late");
        for (var i = 0; i < 3; i++) await fixture.TallyAsync($"early-{i}");

        // The open transaction holds the horizon: nothing after it is handed out yet, so nothing can be skipped.
        Assert.Empty(await fixture.Store.ReadAllAsync(seen.Last().Checkpoint, 100));
        await Task.Delay(500);
        Assert.Equal(["before"], seen.Select(e => e.AggregateId));

        await slow.CommitAsync();
        await fixture.CaughtUpAsync(projection);

        Assert.Equal(["before", "late", "early-0", "early-1", "early-2"], seen.Select(e => e.AggregateId));
        var late = seen.Single(e => e.AggregateId == "late");
        Assert.True(late.GlobalPosition < seen.Where(e => e.AggregateId.StartsWith("early")).Min(e => e.GlobalPosition),
            "the late event took its position before the others: a plain position poll would have skipped it");
        Assert.Equal(5, seen.Select(e => e.EventId).Distinct().Count());
    }

    [Fact]
    public async Task A_runner_signalled_while_the_horizon_is_held_looks_again_without_waiting_for_its_poll()
    {
        var fixture = await FixtureAsync();
        var seen = new ConcurrentQueue<string>();
        var projection = new FunctionProjection("held", (e, _) => { seen.Enqueue(e.AggregateId); return Task.CompletedTask; });
        var runner = new ProjectionRunner(projection, fixture.Store, fixture.Signal, fixture.Lease, fixture.Monitor,
            ProjectionFixture.FastOptions with { PollInterval = TimeSpan.FromMinutes(5) });
        await runner.StartAsync(CancellationToken.None);
        try
        {
            // First the runner must be in its loop, waiting: a runner still starting up misses a signal and rightly
            // falls back to its poll (here while other tests' transactions hold the server's horizon), which is not what
            // this test is about. So the warm-up is nudged until it is projected; the event under test never is.
            await fixture.TallyAsync("warm-up");
            await WaitUntilAsync(() => { fixture.Signal.Notify(); return seen.Count == 1; }, () => "the warm-up event was not projected");
            await Task.Delay(300);

            await using var slowConnection = new NpgsqlConnection(fixture.Database.Connection.ConnectionString);
            await using var slow = await BeginSlowAppendAsync(slowConnection, "late");
            await fixture.TallyAsync("signalled"); // wakes the runner, which can read nothing past the open transaction
            await Task.Delay(300);
            await slow.CommitAsync(); // a foreign writer: no signal

            await WaitUntilAsync(() => seen.Count == 3, () => $"projected only [{string.Join(", ", seen)}] once the horizon moved");
            Assert.Equal(["warm-up", "late", "signalled"], seen);
        }
        finally
        {
            await ProjectionFixture.StopAsync(runner);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, Func<string> failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure());
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_rolled_back_append_does_not_stall_the_runner()
    {
        var fixture = await FixtureAsync();
        var seen = new ConcurrentQueue<string>();
        var projection = new FunctionProjection("rollback", (e, _) => { seen.Enqueue(e.AggregateId); return Task.CompletedTask; });
        await fixture.StartAsync(projection);

        await using (var connection = new NpgsqlConnection(fixture.Database.Connection.ConnectionString))
        {
            await using var doomed = await BeginSlowAppendAsync(connection, "doomed");
            await fixture.TallyAsync("kept-1");
            await doomed.RollbackAsync();
        }
        await fixture.TallyAsync("kept-2");
        await fixture.CaughtUpAsync(projection, TimeSpan.FromSeconds(10));

        Assert.Equal(["kept-1", "kept-2"], seen);
    }

    [Fact]
    public async Task Concurrent_appends_with_random_commit_delays_are_all_read_once_in_checkpoint_order()
    {
        var fixture = await FixtureAsync();
        var seen = new ConcurrentQueue<StoredEventEnvelope>();
        var projection = new FunctionProjection("stress", (e, _) => { seen.Enqueue(e); return Task.CompletedTask; });
        await fixture.StartAsync(projection);

        // Writers hold their transactions open for random times, so commits land out of position order.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(writer => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                await using var connection = new NpgsqlConnection(fixture.Database.Connection.ConnectionString);
                await using var transaction = await BeginSlowAppendAsync(connection, $"w{writer}-{i}");
                await Task.Delay(Random.Shared.Next(0, 15));
                await transaction.CommitAsync();
            }
        })));
        await fixture.CaughtUpAsync(projection);

        Assert.Equal(200, seen.Count);
        Assert.Equal(200, seen.Select(e => e.EventId).Distinct().Count());
        Assert.Equal(seen.Select(e => e.Checkpoint).Order(), seen.Select(e => e.Checkpoint));
    }
}
