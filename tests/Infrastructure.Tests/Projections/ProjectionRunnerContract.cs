using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.Tests.TestReadModel;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Projections;

/// <summary>What every provider's projection runner must do (SEMANTICS 6): exactly-once read models, retries in order, restarts, leases, rebuilds.</summary>
public abstract class ProjectionRunnerContract : OwnsResources
{
    protected abstract Task<ProjectionFixture> CreateFixtureAsync();

    private async Task<ProjectionFixture> FixtureAsync() => Own(await CreateFixtureAsync());

    [Fact]
    public async Task Eight_writers_times_500_events_while_the_runner_runs_are_projected_exactly_once()
    {
        var fixture = await FixtureAsync();
        var projection = fixture.CountersView();
        await fixture.StartAsync(projection);

        // Each writer tallies 25 counters and counts 19 more things on each: 25 x 20 = 500 events per writer.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(writer => Task.Run(async () =>
        {
            for (var c = 0; c < 25; c++)
            {
                var counter = await fixture.TallyAsync($"w{writer}-c{c}");
                for (var thing = 0; thing < 19; thing++)
                {
                    counter.Count($"extra-{thing}", thing + 1);
                    await fixture.Counters.SaveAsync(counter);
                }
            }
        })));

        await fixture.CaughtUpAsync(projection, TimeSpan.FromSeconds(60));
        var views = await fixture.ViewsAsync();
        Assert.Equal(200, views.Count);
        foreach (var (id, view) in views)
        {
            var counter = (await fixture.Counters.LoadAsync(id))!;
            Assert.Equal(counter.Version, view.Version);
            Assert.Equal(20, view.Version);
            Assert.Equal(counter.Total, view.Total);
            Assert.Equal(counter.Things, view.Things());
        }
    }

    [Fact]
    public async Task A_handler_failing_twice_on_one_event_is_retried_in_order_and_the_others_applied_once()
    {
        var fixture = await FixtureAsync();
        for (var i = 0; i < 10; i++) await fixture.TallyAsync($"counter-{i}");
        var calls = new ConcurrentQueue<string>();
        var failuresLeft = 2;
        var projection = new FunctionProjection("flaky", (envelope, _) =>
        {
            calls.Enqueue(envelope.AggregateId);
            if (envelope.AggregateId == "counter-4" && Interlocked.Decrement(ref failuresLeft) >= 0)
                throw new InvalidOperationException("transient read-model failure");
            return Task.CompletedTask;
        });

        await fixture.StartAsync(projection);
        await fixture.CaughtUpAsync(projection);

        var expected = Enumerable.Range(0, 10).Select(i => $"counter-{i}").ToList();
        expected.InsertRange(4, ["counter-4", "counter-4"]);
        Assert.Equal(expected, calls);
        Assert.Null(fixture.Monitor.Find("flaky")!.LastError);
    }

    [Fact]
    public async Task A_poison_event_is_retried_until_it_succeeds_and_nothing_after_it_is_skipped()
    {
        var fixture = await FixtureAsync();
        await fixture.TallyAsync("poison");
        await fixture.TallyAsync("after");
        var attempts = 0;
        var handled = new ConcurrentQueue<string>();
        var projection = new FunctionProjection("stuck", (envelope, _) =>
        {
            if (envelope.AggregateId == "poison" && Interlocked.Increment(ref attempts) <= 4) throw new InvalidOperationException("still broken");
            handled.Enqueue(envelope.AggregateId);
            return Task.CompletedTask;
        });
        await fixture.StartAsync(projection);
        await fixture.CaughtUpAsync(projection);
        Assert.Equal(["poison", "after"], handled);
        Assert.Equal(5, attempts);
    }

    [Fact]
    public async Task A_restarted_runner_resumes_from_the_checkpoint_without_applying_anything_twice()
    {
        var fixture = await FixtureAsync();
        await CreateCounterTableAsync(fixture.Database);
        for (var i = 0; i < 300; i++) await fixture.TallyAsync($"counter-{i}");

        var first = new CountingProjection(fixture, delayPerEvent: TimeSpan.FromMilliseconds(5));
        var runner = await fixture.StartAsync(first);
        await fixture.Monitor.WaitUntilAsync(
            _ => Task.FromResult(fixture.Monitor.Find(first.Name)!.Checkpoint.Position > 0), TimeSpan.FromSeconds(20), CancellationToken.None);
        await ProjectionFixture.StopAsync(runner); // mid-way: cancels whatever batch is in flight
        var stoppedAt = await first.LoadCheckpointAsync(CancellationToken.None);
        Assert.True(stoppedAt < await fixture.HeadAsync(), "the runner should have been stopped before it caught up");

        var second = new CountingProjection(fixture, delayPerEvent: TimeSpan.Zero);
        await fixture.StartAsync(second);
        await fixture.CaughtUpAsync(second);
        Assert.Equal(300, await CountAsync(fixture.Database));
    }

    [Fact]
    public async Task Two_runners_for_one_projection_only_one_is_active_and_the_other_takes_over_when_it_stops()
    {
        var fixture = await FixtureAsync();
        var handledBy = new ConcurrentQueue<string>();
        var firstMonitor = new ProjectionMonitor(TimeProvider.System);
        var secondMonitor = new ProjectionMonitor(TimeProvider.System);
        var checkpoints = new InMemoryCheckpointStore();
        FunctionProjection Projection(string runner) => new("shared", (e, _) =>
        {
            handledBy.Enqueue(runner + ":" + e.AggregateId);
            return Task.CompletedTask;
        }, checkpoints);

        var first = await fixture.StartAsync(Projection("first"), SecondLease(fixture), firstMonitor);
        await WaitForAsync(() => firstMonitor.Find("shared")!.Active);
        await fixture.StartAsync(Projection("second"), SecondLease(fixture), secondMonitor);
        await fixture.TallyAsync("a");
        await WaitForAsync(() => handledBy.Count == 1);
        await Task.Delay(300);
        Assert.False(secondMonitor.Find("shared")!.Active);
        Assert.Equal(["first:a"], handledBy);
        // The idle replica reports the durable checkpoint the active one reached, not its own stale view.
        Assert.Equal(GlobalCheckpoint.Start, secondMonitor.Find("shared")!.Checkpoint);
        var current = (await secondMonitor.CurrentAsync("shared", default))!.Checkpoint;
        Assert.NotEqual(GlobalCheckpoint.Start, current);
        Assert.Equal(firstMonitor.Find("shared")!.Checkpoint, current);

        await ProjectionFixture.StopAsync(first);
        await WaitForAsync(() => secondMonitor.Find("shared")!.Active);
        await fixture.TallyAsync("b");
        await WaitForAsync(() => handledBy.Count == 2);
        Assert.Equal(["first:a", "second:b"], handledBy);
    }

    /// <summary>A lease as a second service instance would hold it (PostgreSQL: another session).</summary>
    protected virtual IProjectionLease SecondLease(ProjectionFixture fixture) => fixture.Lease;

    [Fact]
    public async Task Rebuild_replays_the_read_model_from_the_first_event_into_a_new_generation()
    {
        var fixture = await FixtureAsync();
        var projection = fixture.CountersView();
        await fixture.StartAsync(projection);
        await fixture.StartBuilderAsync();
        await fixture.TallyAsync("r-1", things: 2);
        await fixture.CaughtUpAsync(projection);
        var first = await fixture.Generations.ServingAsync(projection.Name, default);
        await using (var db = await fixture.Database.CreateContextAsync<CountersViewDbContext>(first))
            await db.Counters.ExecuteUpdateAsync(s => s.SetProperty(c => c.Total, 0L));

        Assert.True(await fixture.Monitor.RebuildAsync(projection.Name, CancellationToken.None));
        await fixture.TallyAsync("r-2");
        Assert.True(await fixture.Monitor.WaitUntilAsync(
            async ct => (await fixture.Generations.ServingAsync(projection.Name, ct)).Generation > first.Generation, TimeSpan.FromSeconds(30), default));
        await fixture.CaughtUpAsync(projection);

        var views = await fixture.ViewsAsync();
        Assert.Equal(100 + 200, views["r-1"].Total);
        Assert.Equal(100, views["r-2"].Total);
    }

    [Fact]
    public async Task An_in_place_rebuild_under_writes_that_never_pause_ends_once_it_reads_to_the_head()
    {
        var fixture = await FixtureAsync();
        var applied = 0;
        var projection = new PausedBatches(new FunctionProjection("slow_tally", (_, _) =>
        {
            Interlocked.Increment(ref applied);
            return Task.CompletedTask;
        }, fixture.Checkpoints), TimeSpan.FromMilliseconds(20));
        await fixture.StartAsync(projection);
        // Ten batches to replay, at least 200 ms: the rebuild is still under way when the test looks right after asking for it.
        for (var i = 0; i < 1000; i++) await fixture.TallyAsync($"before-{i}");
        await fixture.CaughtUpAsync(projection);

        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await fixture.TallyAsync($"during-{i}");
                await Task.Delay(1);
            }
        });
        Assert.True(await fixture.Monitor.RebuildAsync(projection.Name, CancellationToken.None));
        Assert.True(fixture.Monitor.Find(projection.Name)!.Rebuilding);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (fixture.Monitor.Find(projection.Name)!.Rebuilding)
        {
            Assert.True(DateTime.UtcNow < deadline, "the rebuild never ended while the writes went on");
            await Task.Delay(20);
        }
        var ended = fixture.Monitor.Find(projection.Name)!.Checkpoint;
        await stop.CancelAsync();
        await writer;

        // It ended at the head, not before: every event before the rebuild was replayed.
        Assert.True(applied >= 2000, $"{applied} events applied");
        Assert.True(ended.Position >= 1000, $"ended at {ended}");
    }

    [Fact]
    public async Task Waiting_for_a_version_returns_once_the_projection_applied_it()
    {
        var fixture = await FixtureAsync();
        var projection = fixture.CountersView();
        await fixture.StartAsync(projection);
        var counter = await fixture.TallyAsync("w-1");
        counter.Close("done");
        await fixture.Counters.SaveAsync(counter);

        var reached = await fixture.Monitor.WaitUntilAsync(async ct =>
        {
            await using var db = await fixture.Database.CreateContextAsync<CountersViewDbContext>(ct);
            return await db.Counters.AnyAsync(c => c.Id == "w-1" && c.Version >= 2, ct);
        }, TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.True(reached);
        Assert.Equal(nameof(CounterStatus.Closed), (await fixture.ViewsAsync())["w-1"].Status);
        Assert.False(await fixture.Monitor.WaitUntilAsync(_ => Task.FromResult(false), TimeSpan.FromMilliseconds(200), CancellationToken.None));
    }

    [Fact]
    public async Task Events_of_one_counter_in_separate_batches_each_update_its_row()
    {
        var fixture = await FixtureAsync();
        var projection = fixture.CountersView();
        var counter = await fixture.TallyAsync("split");
        counter.Count("B", 50);
        await fixture.Counters.SaveAsync(counter);
        var events = await fixture.Store.LoadAsync("split");

        var checkpoint = await projection.ApplyAsync([events[0]], await projection.LoadCheckpointAsync(default), default);
        await projection.ApplyAsync([events[1]], checkpoint, default);

        var view = (await fixture.ViewsAsync())["split"];
        Assert.Equal(2, view.Version);
        Assert.Equal(150, view.Total);
    }

    [Fact]
    public async Task An_idle_runner_wakes_on_each_append_without_waiting_for_its_poll()
    {
        var fixture = await FixtureAsync();
        var seen = new ConcurrentQueue<string>();
        var projection = new FunctionProjection("prompt", (e, _) => { seen.Enqueue(e.AggregateId); return Task.CompletedTask; });
        var runner = new ProjectionRunner(projection, fixture.Store, fixture.Signal, fixture.Lease, fixture.Monitor,
            ProjectionFixture.FastOptions with { PollInterval = TimeSpan.FromMinutes(5) });
        await runner.StartAsync(CancellationToken.None);
        try
        {
            for (var i = 0; i < 20; i++)
            {
                await fixture.TallyAsync($"p-{i}");
                var deadline = DateTime.UtcNow.AddSeconds(5);
                while (seen.Count < i + 1)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"append {i} was not projected without a poll");
                    await Task.Delay(5);
                }
            }
        }
        finally
        {
            await ProjectionFixture.StopAsync(runner);
        }
    }

    [Fact]
    public async Task Redelivered_events_are_ignored_by_a_read_model_idempotent_by_version()
    {
        var fixture = await FixtureAsync();
        var counter = await fixture.TallyAsync("dup");
        counter.Count("B", 50);
        await fixture.Counters.SaveAsync(counter);
        var events = await fixture.Store.LoadAsync("dup");
        var projection = fixture.CountersView();

        var checkpoint = await projection.ApplyAsync(events, await projection.LoadCheckpointAsync(default), default);
        await fixture.Checkpoints.ResetAsync(await fixture.ServingCheckpointAsync(projection.Name), default);
        await projection.ApplyAsync(events, GlobalCheckpoint.Start, default);

        var view = (await fixture.ViewsAsync())["dup"];
        Assert.Equal(2, view.Version);
        Assert.Equal(150, view.Total);
        Assert.Equal(2, view.Things().Count);
        Assert.Equal(checkpoint, await projection.LoadCheckpointAsync(default));
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }

    private static async Task CreateCounterTableAsync(EventStoreDatabase database)
    {
        await using var db = await database.CreateContextAsync();
        await db.Database.ExecuteSqlRawAsync("CREATE TABLE test_applied (event_id VARCHAR(64) NOT NULL)");
    }

    private static async Task<int> CountAsync(EventStoreDatabase database)
    {
        await using var db = await database.CreateContextAsync();
        return await db.Database.SqlQueryRaw<int>("SELECT COUNT(*) AS \"Value\" FROM test_applied").SingleAsync();
    }

    /// <summary>Records every application in a table of its own, with no idempotency: doubles would show.</summary>
    private sealed class CountingProjection(ProjectionFixture fixture, TimeSpan delayPerEvent)
        : EfCoreProjection<EventStoreDbContext>(fixture.Database, fixture.Checkpoints)
    {
        public override string Name => "counting";

        protected override async Task ApplyAsync(EventStoreDbContext db, StoredEventEnvelope envelope, CancellationToken cancellationToken)
        {
            if (delayPerEvent > TimeSpan.Zero) await Task.Delay(delayPerEvent, cancellationToken);
            await db.Database.ExecuteSqlAsync($"INSERT INTO test_applied (event_id) VALUES ({envelope.EventId})", cancellationToken);
        }

        protected override Task ClearAsync(EventStoreDbContext db, CancellationToken cancellationToken) =>
            db.Database.ExecuteSqlRawAsync("DELETE FROM test_applied", cancellationToken);
    }
}

/// <summary>A projection whose every batch takes <paramref name="pause"/> longer: slower per batch than steady writes come, so no read comes back empty.</summary>
internal sealed class PausedBatches(IProjection inner, TimeSpan pause) : IProjection
{
    public string Name => inner.Name;

    public Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken) => inner.LoadCheckpointAsync(cancellationToken);

    public async Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken)
    {
        await Task.Delay(pause, cancellationToken);
        return await inner.ApplyAsync(batch, from, cancellationToken);
    }

    public Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken) =>
        inner.SkipAsync(parked, from, cancellationToken);

    public Task ResetAsync(CancellationToken cancellationToken) => inner.ResetAsync(cancellationToken);
}

public sealed class MemoryProjectionRunnerTests : ProjectionRunnerContract
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.MemoryAsync();
}

public sealed class SqliteProjectionRunnerTests : ProjectionRunnerContract
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.SqliteAsync();
}

public sealed class PostgresProjectionRunnerTests : ProjectionRunnerContract
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.PostgresAsync();

    protected override IProjectionLease SecondLease(ProjectionFixture fixture) => ProjectionFixture.PostgresLease(fixture.Database.Connection);
}
