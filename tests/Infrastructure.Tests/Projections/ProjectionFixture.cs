using System.Reflection;
using Microsoft.EntityFrameworkCore;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.Tests.TestReadModel;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Projections;

/// <summary>
/// One provider's event store and read-model database, with helpers to run projection runners over them. It hosts
/// the kernel tests' own feature (<see cref="Counter"/>, <c>test_counters_view</c>) unless given another.
/// </summary>
public sealed class ProjectionFixture : IAsyncDisposable
{
    public static readonly ProjectionOptions FastOptions = new()
    {
        BatchSize = 100,
        PollInterval = TimeSpan.FromMilliseconds(200),
        InitialRetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>Builds that switch as soon as they are caught up, and drop retired tables at once.</summary>
    public static readonly ReadModelBuildOptions FastBuilds = new()
    {
        RetiredGrace = TimeSpan.Zero,
        PollInterval = TimeSpan.FromMilliseconds(100),
        SwitchCheckInterval = TimeSpan.FromMilliseconds(20),
    };

    private readonly List<ProjectionRunner> _runners = [];
    private readonly List<ReadModelBuilder> _builders = [];
    private readonly List<IAsyncDisposable> _owned = [];

    private ProjectionFixture(EventStoreDatabase database, IAsyncDisposable owner, IProjectionLease lease, bool relationalStore, HostedFeature feature)
    {
        Database = database;
        _owned.Add(owner);
        Lease = lease;
        var registry = new EventTypeRegistry();
        foreach (var assembly in feature.EventAssemblies) registry.RegisterAssembly(assembly);
        Serializer = new EventSerializer(registry);
        var envelopes = new EnvelopeFactory(Serializer, TimeProvider.System);
        Store = relationalStore ? new EfCoreEventStore(database, envelopes, null, Signal) : new InMemoryEventStore(envelopes, null, Signal);
        Checkpoints = new EfCoreCheckpointStore(database, TimeProvider.System);
        Counters = new EventSourcedRepository<Counter>(Store, Serializer, () => new Counter());
        Skips = new EfCoreProjectionSkipStore(database);
    }

    public EventStoreDatabase Database { get; }
    public IEventStore Store { get; }
    public EventSerializer Serializer { get; }
    public IProjectionLease Lease { get; }
    public EventStoreSignal Signal { get; } = new();
    public ProjectionMonitor Monitor { get; } = new(TimeProvider.System) { FallbackCheckInterval = TimeSpan.FromMilliseconds(50) };
    public EfCoreCheckpointStore Checkpoints { get; }
    public EventSourcedRepository<Counter> Counters { get; }
    /// <summary>Parked events in the fixture's database, shared by every runner (as by replicas).</summary>
    public IProjectionSkipStore Skips { get; }

    /// <summary>The in-memory store, with the read model in a private in-memory SQLite database.</summary>
    public static Task<ProjectionFixture> MemoryAsync(HostedFeature? feature = null)
    {
        feature ??= HostedFeature.Counters;
        var readModel = new EventStoreDatabase(StoreUrl.Parse("test", ReadModelHost.InMemoryUrl), feature.ReadModels);
        return Task.FromResult(new ProjectionFixture(readModel, readModel, new InProcessProjectionLease(), relationalStore: false, feature));
    }

    public static Task<ProjectionFixture> SqliteAsync(HostedFeature? feature = null)
    {
        feature ??= HostedFeature.Counters;
        var database = TestDatabases.CreateSqlite(feature.ReadModels);
        return Task.FromResult(new ProjectionFixture(database.Database, database, new InProcessProjectionLease(), relationalStore: true, feature));
    }

    public static async Task<ProjectionFixture> PostgresAsync(HostedFeature? feature = null)
    {
        feature ??= HostedFeature.Counters;
        var database = await TestDatabases.CreatePostgresAsync(feature.ReadModels);
        return new ProjectionFixture(database.Database, database, PostgresLease(database.Connection), relationalStore: true, feature);
    }

    public static PostgresProjectionLease PostgresLease(StoreConnection connection) =>
        new(connection.ConnectionString, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200));

    public CountersViewProjection CountersView() => new(Database, Checkpoints, Serializer);

    /// <summary>Starts a runner; it is stopped when the fixture is disposed unless the test stops it first.</summary>
    public async Task<ProjectionRunner> StartAsync(IProjection projection, IProjectionLease? lease = null, ProjectionMonitor? monitor = null,
        ProjectionOptions? options = null)
    {
        var runner = new ProjectionRunner(projection, Store, Signal, lease ?? Lease, monitor ?? Monitor, options ?? FastOptions, skips: Skips);
        _runners.Add(runner);
        await runner.StartAsync(CancellationToken.None);
        return runner;
    }

    /// <summary>
    /// Starts the builder of read-model generations for the runners registered with <paramref name="monitor"/> (the fixture's
    /// by default): what runs a blue/green rebuild. Stopped when the fixture is disposed.
    /// </summary>
    public async Task<ReadModelBuilder> StartBuilderAsync(
        ReadModelBuildOptions? options = null, ProjectionMonitor? monitor = null, IProjectionLease? lease = null, IEventStore? store = null)
    {
        var builder = new ReadModelBuilder(monitor ?? Monitor, store ?? Store, Signal, lease ?? Lease, Skips,
            Microsoft.Extensions.Options.Options.Create(options ?? FastBuilds), FastOptions);
        _builders.Add(builder);
        await builder.StartAsync(CancellationToken.None);
        return builder;
    }

    /// <summary>The generations of the read models in the fixture's database.</summary>
    public ReadModelGenerations Generations => new(Database, TimeProvider.System);

    /// <summary>The checkpoint name of <paramref name="readModel"/>'s serving generation.</summary>
    public async Task<string> ServingCheckpointAsync(string readModel) => (await Generations.ServingAsync(readModel, default)).CheckpointName;

    public static async Task StopAsync(ProjectionRunner runner)
    {
        await runner.StopAsync(CancellationToken.None);
        runner.Dispose();
    }

    /// <summary>
    /// The checkpoint of the last event stored, committed or not yet readable: read from the table on PostgreSQL,
    /// because read-all stops at the horizon of transactions still open anywhere on the server (other tests'), and on SQLite.
    /// </summary>
    public async Task<GlobalCheckpoint> HeadAsync()
    {
        if (Store is EfCoreEventStore && Database.Provider == DatabaseProvider.Sqlite)
        {
            // Read from the table too: a row the store cannot read (a test's hand-written one) must not hide the head.
            await using var sqlite = await Database.OpenConnectionAsync();
            await using var max = sqlite.CreateCommand();
            max.CommandText = "SELECT COALESCE(MAX(global_position), 0) FROM pyfly_event_store";
            return new GlobalCheckpoint(0, Convert.ToInt64(await max.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
        }
        if (Store is EfCoreEventStore && Database.Provider == DatabaseProvider.PostgreSql)
        {
            await using var connection = await Database.DataSource.OpenConnectionAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT transaction_id::text::bigint, global_position FROM pyfly_event_store
                ORDER BY transaction_id DESC, global_position DESC LIMIT 1
                """;
            await using var reader = await command.ExecuteReaderAsync();
            return await reader.ReadAsync() ? new GlobalCheckpoint(reader.GetInt64(0), reader.GetInt64(1)) : GlobalCheckpoint.Start;
        }
        var checkpoint = GlobalCheckpoint.Start;
        while (true)
        {
            var batch = await Store.ReadAllAsync(checkpoint, 1000);
            if (batch.Count == 0) return checkpoint;
            checkpoint = batch[^1].Checkpoint;
        }
    }

    /// <summary>Waits until the projection's durable checkpoint reaches the store's head.</summary>
    public async Task CaughtUpAsync(IProjection projection, TimeSpan? timeout = null)
    {
        var head = await HeadAsync();
        var reached = await Monitor.WaitUntilAsync(
            async ct => await projection.LoadCheckpointAsync(ct) >= head, timeout ?? TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.True(reached, $"projection {projection.Name} did not reach {head}; it is at {await projection.LoadCheckpointAsync(CancellationToken.None)}");
    }

    /// <summary>The rows of <c>test_counters_view</c> by counter id.</summary>
    public async Task<Dictionary<string, CounterView>> ViewsAsync()
    {
        await using var db = await Database.CreateContextAsync<CountersViewDbContext>();
        return await db.Counters.ToDictionaryAsync(c => c.Id);
    }

    /// <summary>Stores a new counter with one event: a tally by <c>by-{id}</c> of <paramref name="things"/> things, thing-i counted 100 x i times.</summary>
    public async Task<Counter> TallyAsync(string id, int things = 1)
    {
        var counter = Counter.Start(id);
        counter.Tally("by-" + id, Enumerable.Range(1, things).Select(i => new ThingCount($"thing-{i}", 100 * i)).ToArray());
        await Counters.SaveAsync(counter);
        return counter;
    }

    /// <summary>
    /// Inserts an event row as another service sharing the table would: only the seed's columns, with
    /// <paramref name="payload"/> as it is (the database fills the global position).
    /// </summary>
    public async Task InsertForeignRowAsync(string eventId, string aggregateId, string eventType, string payload, string aggregateType = nameof(Counter))
    {
        await using var connection = await Database.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
            VALUES (@id, @aggregate, @aggregateType, 1, @type, @payload, '{}', @at, 1, NULL)
            """;
        foreach (var (name, value) in new (string, object)[]
                 { ("@id", eventId), ("@aggregate", aggregateId), ("@aggregateType", aggregateType), ("@type", eventType), ("@payload", payload) })
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
        var at = Database.TimestampParameter(DateTimeOffset.UtcNow);
        at.ParameterName = "@at";
        command.Parameters.Add(at);
        await command.ExecuteNonQueryAsync();
        Signal.Notify();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var builder in _builders)
        {
            await builder.StopAsync(CancellationToken.None);
            builder.Dispose();
        }
        foreach (var runner in _runners)
        {
            await runner.StopAsync(CancellationToken.None);
            runner.Dispose();
        }
        for (var i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
    }
}

/// <summary>The read models a fixture's database hosts and the assemblies whose events its serializer knows.</summary>
public sealed record HostedFeature(IReadOnlyList<IReadModelSchema> ReadModels, IReadOnlyList<Assembly> EventAssemblies)
{
    /// <summary>The kernel tests' own feature: the <see cref="Counter"/> events and <c>test_counters_view</c>.</summary>
    public static HostedFeature Counters { get; } = new(TestDatabase.DefaultReadModels, [typeof(Counter).Assembly]);
}
