using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.Tests.TestReadModel;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Projections;

/// <summary>
/// Blue/green read models on every provider: a rebuild or a new version builds a new generation beside the serving one,
/// queries read the serving one whole until the switch, one instance builds at a time, a failing build never switches,
/// retired tables are dropped, and the plain table of an earlier release is adopted.
/// </summary>
public abstract class ReadModelGenerationContract : OwnsResources
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    protected abstract Task<ProjectionFixture> CreateFixtureAsync();

    /// <summary>A lease as a second service instance would hold it (PostgreSQL: another session).</summary>
    protected virtual IProjectionLease SecondLease(ProjectionFixture fixture) => fixture.Lease;

    /// <summary>Whether a second <see cref="EventStoreDatabase"/> can open the fixture's database (not a private in-memory one).</summary>
    protected virtual bool SharedDatabase => true;

    private async Task<ProjectionFixture> FixtureAsync() => Own(await CreateFixtureAsync());

    [Fact]
    public async Task A_rebuild_under_writes_never_shows_a_partial_read_model_and_switches_once_caught_up()
    {
        var fixture = await FixtureAsync();
        var projection = fixture.CountersView();
        await fixture.StartAsync(projection);
        await fixture.StartBuilderAsync();
        for (var i = 0; i < 300; i++) await fixture.TallyAsync($"before-{i}");
        await fixture.CaughtUpAsync(projection);
        var first = await fixture.Generations.ServingAsync(projection.Name, default);
        Assert.Equal((1, 1), (first.Generation, first.Version));
        var before = (await fixture.ViewsAsync()).Keys.ToHashSet();

        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await fixture.TallyAsync($"during-{i}");
                await Task.Delay(2);
            }
        });
        var smallest = int.MaxValue;
        var reads = 0;
        Assert.True(await fixture.Monitor.RebuildAsync(projection.Name, CancellationToken.None));
        var deadline = DateTime.UtcNow + Patience;
        while ((await fixture.Generations.ServingAsync(projection.Name, default)).Generation == first.Generation)
        {
            Assert.True(DateTime.UtcNow < deadline, "the build did not take over");
            var seen = (await fixture.ViewsAsync()).Keys.ToHashSet();
            Assert.True(before.IsSubsetOf(seen), $"a query saw {seen.Count} rows: a partial read model");
            smallest = Math.Min(smallest, seen.Count);
            reads++;
        }
        await stop.CancelAsync();
        await writer;
        // Once switched the runner of the serving generation goes on from where the build stopped.
        await fixture.TallyAsync("after");
        await fixture.CaughtUpAsync(projection);

        Assert.True(reads > 0 && smallest >= before.Count);
        var generations = await fixture.Generations.ListAsync(projection.Name, default);
        var second = generations.Single(g => g.State == GenerationState.Serving);
        Assert.Equal((2, 1), (second.Generation, second.Version));
        var views = await fixture.ViewsAsync();
        Assert.Contains("after", views.Keys);
        Assert.All(views.Values, v => Assert.Equal((1, 100L), (v.Version, v.Total)));
    }

    [Fact]
    public async Task A_build_switches_under_writes_that_never_pause()
    {
        var fixture = await FixtureAsync();
        // Each batch of the build takes longer than the writes take to come: looked at, it is almost never exactly at the head.
        var projection = new CountedBuilds(fixture.CountersView(), new BuildCounter(TimeSpan.FromMilliseconds(25)), "only");
        await fixture.StartAsync(projection);
        await fixture.StartBuilderAsync();
        // Several batches to build, so writes come in while it runs.
        for (var i = 0; i < 500; i++) await fixture.TallyAsync($"before-{i}");
        await fixture.CaughtUpAsync(projection);

        using var stop = new CancellationTokenSource();
        var written = 500;
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await fixture.TallyAsync($"during-{i}");
                Interlocked.Increment(ref written);
                await Task.Delay(1);
            }
        });
        // The writes are flowing when the rebuild starts. (On SQLite they take turns with the build's batches, so one
        // of them may finish before the next write gets through: there the build can be exactly at the head.)
        while (Volatile.Read(ref written) < 510) await Task.Delay(1);
        Assert.True(await fixture.Monitor.RebuildAsync(projection.Name, CancellationToken.None));
        var deadline = DateTime.UtcNow + Patience;
        while ((await fixture.Generations.ServingAsync(projection.Name, default)).Generation == 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the build did not take over while the writes went on");
            await Task.Delay(20);
        }
        await stop.CancelAsync();
        await writer;

        await fixture.CaughtUpAsync(projection);
        Assert.Equal(written, (await fixture.ViewsAsync()).Count);
    }

    [Fact]
    public async Task The_rebuilt_generation_replays_every_event_and_the_retired_table_is_dropped_after_the_grace()
    {
        var fixture = await FixtureAsync();
        var projection = fixture.CountersView();
        await fixture.StartAsync(projection);
        await fixture.StartBuilderAsync();
        var counter = await fixture.TallyAsync("c-1", things: 2);
        counter.Count("thing-3", 300);
        await fixture.Counters.SaveAsync(counter);
        await fixture.CaughtUpAsync(projection);
        var first = await fixture.Generations.ServingAsync(projection.Name, default);
        // Damage the serving generation: only a replay from the first event into a new table repairs it.
        await using (var db = await fixture.Database.CreateContextAsync<CountersViewDbContext>(first))
            await db.Counters.ExecuteUpdateAsync(s => s.SetProperty(c => c.Total, 0L));
        Assert.Equal(0, (await fixture.ViewsAsync())["c-1"].Total);

        Assert.True(await fixture.Monitor.RebuildAsync(projection.Name, CancellationToken.None));
        await WaitForAsync(fixture, async () =>
            (await fixture.Generations.ListAsync(projection.Name, default)).Any(g => g.Generation == first.Generation && g.State == GenerationState.Dropped));

        Assert.Equal((2, 600L), ((await fixture.ViewsAsync())["c-1"].Version, (await fixture.ViewsAsync())["c-1"].Total));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {first.Table}";
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => command.ExecuteScalarAsync());
        Assert.Equal(GlobalCheckpoint.Start, await fixture.Checkpoints.LoadAsync(first.CheckpointName, default));
        // Its EF Core context pool went with its table; the serving generation's stays.
        Assert.False(fixture.Database.HoldsContextPool(first.Table));
        var serving = await fixture.Generations.ServingAsync(projection.Name, default);
        Assert.True(fixture.Database.HoldsContextPool(serving.Table));
    }

    [Fact]
    public async Task Two_instances_never_build_the_same_generation_at_once()
    {
        var fixture = await FixtureAsync();
        var builds = new BuildCounter();
        var projection = new CountedBuilds(fixture.CountersView(), builds, "first");
        await fixture.StartAsync(projection);
        await fixture.StartBuilderAsync();
        var secondMonitor = new ProjectionMonitor(TimeProvider.System);
        await fixture.StartAsync(new CountedBuilds(fixture.CountersView(), builds, "second"), SecondLease(fixture), secondMonitor);
        await fixture.StartBuilderAsync(monitor: secondMonitor, lease: SecondLease(fixture));
        for (var i = 0; i < 300; i++) await fixture.TallyAsync($"c-{i}");
        await fixture.CaughtUpAsync(projection);

        await fixture.Monitor.RebuildAsync(projection.Name, CancellationToken.None);
        await WaitForAsync(fixture, async () =>
            (await fixture.Generations.ListAsync(projection.Name, default)).Select(g => g.State).SequenceEqual([GenerationState.Dropped, GenerationState.Serving]));

        Assert.Equal(1, builds.MostAtOnce);
        Assert.Single(builds.Instances.Distinct());
        await fixture.CaughtUpAsync(projection);
        Assert.Equal(300, (await fixture.ViewsAsync()).Count);
    }

    [Fact]
    public async Task A_failing_build_never_switches_and_the_serving_generation_keeps_answering()
    {
        var fixture = await FixtureAsync();
        var projection = new FailingBuilds(fixture.CountersView());
        await fixture.StartAsync(projection);
        var builder = await fixture.StartBuilderAsync();
        await fixture.TallyAsync("c-1");
        await fixture.CaughtUpAsync(projection);
        var first = await fixture.Generations.ServingAsync(projection.Name, default);

        await fixture.Monitor.RebuildAsync(projection.Name, CancellationToken.None);
        await WaitForAsync(fixture, async () => (await builder.DescribeAsync(projection, default)).Any(g => g.Failure is not null));
        await fixture.TallyAsync("c-2");
        await fixture.CaughtUpAsync(projection);

        var generations = await builder.DescribeAsync(projection, default);
        Assert.Equal(first.Generation, generations.Single(g => g.Generation.State == GenerationState.Serving).Generation.Generation);
        var failing = generations.Single(g => g.Generation.State == GenerationState.Building);
        Assert.Contains("this build cannot apply", failing.Failure!.Error);
        Assert.Equal(["c-1", "c-2"], (await fixture.ViewsAsync()).Keys.Order());
        // The serving projection itself is healthy: the build's failure is the build's.
        Assert.Null(fixture.Monitor.Find(projection.Name)!.Failure);
    }

    [Fact]
    public async Task A_build_that_keeps_failing_degrades_readiness_and_parking_its_event_lets_it_switch()
    {
        var fixture = await FixtureAsync();
        var projection = new BuildsFailingOn(fixture.CountersView(), "c-poison");
        await fixture.StartAsync(projection);
        var builder = await fixture.StartBuilderAsync();
        await fixture.TallyAsync("c-1");
        await fixture.TallyAsync("c-poison");
        await fixture.TallyAsync("c-2");
        await fixture.CaughtUpAsync(projection);
        var first = await fixture.Generations.ServingAsync(projection.Name, default);
        var health = new ProjectionHealthCheck(fixture.Monitor, fixture.Store,
            Microsoft.Extensions.Options.Options.Create(new ProjectionHealthOptions { FailingDegradedAfter = TimeSpan.FromMilliseconds(1) }), TimeProvider.System);

        await fixture.Monitor.RebuildAsync(projection.Name, CancellationToken.None);
        await WaitForAsync(fixture, () => Task.FromResult(builder.FailingBuilds().Any(b => b.Failure.Attempts >= 2)));
        var failing = Assert.Single(builder.FailingBuilds());
        var poison = (await fixture.Store.LoadAsync("c-poison")).Single();
        Assert.Equal(poison.EventId, failing.Failure.EventId);
        var degraded = await health.CheckHealthAsync(new HealthCheckContext(), CancellationToken.None);
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains($"The build of read model '{projection.Name}' (generation {failing.Generation.Generation}", degraded.Description);
        Assert.Contains(poison.EventId, degraded.Description);

        // The operator parks the event through the projection's name, as the admin endpoint does: the build moves on and switches.
        var outcome = await fixture.Monitor.SkipAsync(projection.Name, poison.EventId, "cannot be rebuilt", CancellationToken.None);
        Assert.Equal(SkipResult.Skipped, outcome!.Result);
        await WaitForAsync(fixture, async () => (await fixture.Generations.ServingAsync(projection.Name, default)).Generation != first.Generation);
        Assert.Empty(builder.FailingBuilds());
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(new HealthCheckContext(), CancellationToken.None)).Status);
        Assert.Equal(["c-1", "c-2"], (await fixture.ViewsAsync()).Keys.Order());
    }

    [Fact]
    public async Task A_new_version_is_built_beside_the_serving_one_and_older_instances_never_write_it()
    {
        if (!SharedDatabase) Assert.Skip("The in-memory store keeps no read model across restarts: a new version starts from the first event anyway.");
        var fixture = await FixtureAsync();
        var v1 = fixture.CountersView();
        await fixture.StartAsync(v1);
        await fixture.StartBuilderAsync();
        for (var i = 0; i < 100; i++) await fixture.TallyAsync($"c-{i}");
        await fixture.CaughtUpAsync(v1);

        // A deployment of version 2: a second instance whose read model declares it.
        var database = Own(new EventStoreDatabase(fixture.Database.Connection, [new CountersOfVersion(2)]));
        await database.EnsureSchemaAsync();
        var generations = await fixture.Generations.ListAsync(v1.Name, default);
        Assert.Equal([(1, 1, GenerationState.Serving), (2, 2, GenerationState.Building)],
            generations.Select(g => (g.Generation, g.Version, g.State)));
        Assert.Equal("version 2 deployed over serving version 1", generations[1].Reason);
        await database.EnsureSchemaAsync(); // a second instance of version 2 starting: no second build

        var monitor = new ProjectionMonitor(TimeProvider.System);
        var v2 = new CountersViewProjection(database, new EfCoreCheckpointStore(database, TimeProvider.System), fixture.Serializer);
        await fixture.StartAsync(v2, SecondLease(fixture), monitor);
        await fixture.StartBuilderAsync(monitor: monitor, lease: SecondLease(fixture));
        await WaitForAsync(fixture, async () => (await fixture.Generations.ServingAsync(v1.Name, default)).Version == 2);
        await fixture.TallyAsync("after");
        await fixture.CaughtUpAsync(v2);

        Assert.Equal([GenerationState.Dropped, GenerationState.Serving], (await fixture.Generations.ListAsync(v1.Name, default)).Select(g => g.State));
        var views = await fixture.ViewsAsync();
        Assert.Equal(101, views.Count);
        Assert.Contains("after", views.Keys);
        // The version 1 instance waits for a generation of its version instead of writing version 2's table, without failing.
        Assert.Null(fixture.Monitor.Find(v1.Name)!.Failure);
        Assert.Null(monitor.Find(v2.Name)!.Failure);
    }

    [Fact]
    public async Task The_plain_table_of_an_earlier_release_is_adopted_as_generation_one()
    {
        if (!SharedDatabase) Assert.Skip("The in-memory store keeps no read model across restarts: there is no earlier table to adopt.");
        var fixture = await FixtureAsync();
        await fixture.Database.EnsureSchemaAsync();
        var schema = new LegacySchema();
        await ExecuteAsync(fixture.Database, string.Join(";\n", schema.Statements(fixture.Database.Provider, schema.Table)));
        await ExecuteAsync(fixture.Database, $"INSERT INTO {schema.Table} (id, total) VALUES ('kept', 42)");
        await ExecuteAsync(fixture.Database,
            $"INSERT INTO orderses_projection_checkpoints (name, commit_id, position, updated_at) VALUES ('{schema.Table}', 3, 7, CURRENT_TIMESTAMP)");

        var database = Own(new EventStoreDatabase(fixture.Database.Connection, [schema]));
        await database.EnsureSchemaAsync();

        var generation = await new ReadModelGenerations(database, TimeProvider.System).ServingAsync(schema.Table, default);
        Assert.Equal((1, 1, "adopted the table of an earlier release"), (generation.Generation, generation.Version, generation.Reason));
        Assert.Equal(42L, Convert.ToInt64(await ScalarAsync(database, $"SELECT total FROM {schema.Table} WHERE id = 'kept'")));
        Assert.Equal(42L, Convert.ToInt64(await ScalarAsync(database, $"SELECT total FROM {generation.Table} WHERE id = 'kept'")));
        Assert.Equal(new GlobalCheckpoint(3, 7), await new EfCoreCheckpointStore(database, TimeProvider.System).LoadAsync(generation.CheckpointName, default));
    }

    private static async Task WaitForAsync(ProjectionFixture fixture, Func<Task<bool>> condition) =>
        Assert.True(await fixture.Monitor.WaitUntilAsync(_ => condition(), Patience, CancellationToken.None), "the condition did not come true");

    private static async Task ExecuteAsync(EventStoreDatabase database, string sql)
    {
        await using var connection = await database.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<object?> ScalarAsync(EventStoreDatabase database, string sql)
    {
        await using var connection = await database.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    /// <summary><c>test_counters_view</c> as a later release would declare it.</summary>
    private sealed class CountersOfVersion(int version) : IReadModelSchema
    {
        public string Table => CountersViewSchema.TableName;

        public int Version => version;

        public IReadOnlyList<string> Statements(DatabaseProvider provider, string table) => new CountersViewSchema().Statements(provider, table);
    }

    /// <summary>A read model whose plain table an earlier release created.</summary>
    private sealed class LegacySchema : IReadModelSchema
    {
        public string Table => "test_legacy_view";

        public IReadOnlyList<string> Statements(DatabaseProvider provider, string table) =>
            [$"CREATE TABLE {table} (id VARCHAR(64) PRIMARY KEY, total BIGINT NOT NULL)"];
    }

    /// <summary>Batches applied to builds by every instance: how many at once at most, and by which instances.</summary>
    private sealed class BuildCounter(TimeSpan? pause = null)
    {
        private int _now;
        private int _most;

        public ConcurrentBag<string> Instances { get; } = [];

        public int MostAtOnce => Volatile.Read(ref _most);

        public async Task<T> CountAsync<T>(string instance, Func<Task<T>> apply)
        {
            Instances.Add(instance);
            var now = Interlocked.Increment(ref _now);
            int most;
            while (now > (most = Volatile.Read(ref _most)) && Interlocked.CompareExchange(ref _most, now, most) != most)
            {
            }
            try
            {
                // By default long enough for a second builder of the same generation, were there one, to be caught applying too.
                await Task.Delay(pause ?? TimeSpan.FromMilliseconds(5));
                return await apply();
            }
            finally
            {
                Interlocked.Decrement(ref _now);
            }
        }
    }

    /// <summary>The counters' read model as one instance runs it, its builds counted in <paramref name="counter"/>.</summary>
    private sealed class CountedBuilds(CountersViewProjection inner, BuildCounter counter, string instance) : Delegating(inner)
    {
        public override IProjection ForGeneration(ReadModelGeneration generation) => new Counted(Inner.ForGeneration(generation), counter, instance);

        private sealed class Counted(IProjection build, BuildCounter counter, string instance) : IProjection
        {
            public string Name => build.Name;

            public Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken) => build.LoadCheckpointAsync(cancellationToken);

            public Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken) =>
                counter.CountAsync(instance, () => build.ApplyAsync(batch, from, cancellationToken));

            public Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken) =>
                build.SkipAsync(parked, from, cancellationToken);

            public Task ResetAsync(CancellationToken cancellationToken) => build.ResetAsync(cancellationToken);
        }
    }

    /// <summary>The counters' read model, except that its builds fail on every event: the serving generation is untouched.</summary>
    private sealed class FailingBuilds(CountersViewProjection inner) : Delegating(inner)
    {
        public override IProjection ForGeneration(ReadModelGeneration generation) => new FunctionProjection(generation.CheckpointName,
            (envelope, _) => throw new InvalidOperationException($"this build cannot apply {envelope.EventType}"));
    }

    /// <summary>The counters' read model, except that its builds fail on <paramref name="aggregateId"/>'s events (the serving generation applies them).</summary>
    private sealed class BuildsFailingOn(CountersViewProjection inner, string aggregateId) : Delegating(inner)
    {
        public override IProjection ForGeneration(ReadModelGeneration generation) => new FailingOn(Inner.ForGeneration(generation), aggregateId);

        private sealed class FailingOn(IProjection build, string aggregateId) : IProjection
        {
            public string Name => build.Name;

            public Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken) => build.LoadCheckpointAsync(cancellationToken);

            public Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken) =>
                batch.Any(e => e.AggregateId == aggregateId)
                    ? throw new InvalidOperationException($"this build cannot apply {aggregateId}")
                    : build.ApplyAsync(batch, from, cancellationToken);

            public Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken) =>
                build.SkipAsync(parked, from, cancellationToken);

            public Task ResetAsync(CancellationToken cancellationToken) => build.ResetAsync(cancellationToken);
        }
    }

    /// <summary>The counters' read model as it is, for a test to change how its builds run.</summary>
    private abstract class Delegating(CountersViewProjection inner) : IGenerationalProjection
    {
        protected CountersViewProjection Inner => inner;
        public string Name => inner.Name;
        public string LeaseName => inner.LeaseName;
        public IReadModelSchema? ReadModel => inner.ReadModel;

        public Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken) => inner.LoadCheckpointAsync(cancellationToken);

        public Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken) =>
            inner.ApplyAsync(batch, from, cancellationToken);

        public Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken) =>
            inner.SkipAsync(parked, from, cancellationToken);

        public Task ResetAsync(CancellationToken cancellationToken) => inner.ResetAsync(cancellationToken);

        public Task<ReadModelGeneration> StartBuildAsync(string reason, CancellationToken cancellationToken) => inner.StartBuildAsync(reason, cancellationToken);

        public Task<IReadOnlyList<ReadModelGeneration>> GenerationsAsync(CancellationToken cancellationToken) => inner.GenerationsAsync(cancellationToken);

        public Task<bool> SwitchAsync(ReadModelGeneration build, CancellationToken cancellationToken) => inner.SwitchAsync(build, cancellationToken);

        public Task<int> DropRetiredAsync(TimeSpan grace, CancellationToken cancellationToken) => inner.DropRetiredAsync(grace, cancellationToken);

        public Task<GlobalCheckpoint> CheckpointOfAsync(ReadModelGeneration generation, CancellationToken cancellationToken) =>
            inner.CheckpointOfAsync(generation, cancellationToken);

        public abstract IProjection ForGeneration(ReadModelGeneration generation);
    }
}

public sealed class MemoryReadModelGenerationTests : ReadModelGenerationContract
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.MemoryAsync();

    protected override bool SharedDatabase => false;
}

public sealed class SqliteReadModelGenerationTests : ReadModelGenerationContract
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.SqliteAsync();
}

public sealed class PostgresReadModelGenerationTests : ReadModelGenerationContract
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.PostgresAsync();

    protected override IProjectionLease SecondLease(ProjectionFixture fixture) => ProjectionFixture.PostgresLease(fixture.Database.Connection);
}
