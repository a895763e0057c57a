using JasperFx.Events;
using Marten;
using Npgsql;
using NpgsqlTypes;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Bench.Scenarios;

/// <summary>
/// Appends: W writers each append to streams of their own, E events per commit, new stream every 100 events.
/// OrdersEs's EF Core store (its outbox rows come with it) against hand-written Npgsql doing the same durable
/// work in one transaction, and Marten's Quick append.
/// </summary>
public static class AppendScenario
{
    private const int EventsPerStream = 100;

    public static Task<IReadOnlyList<Figure>> RunAsync(BenchDatabase databases, int writers, int eventsPerCommit, int commitsPerWriter, int rounds) =>
        Comparison.RunAsync($"append {eventsPerCommit} ev/commit, {writers} writers", "events/s", higherIsBetter: true, rounds,
            new RawNpgsqlAppend(databases, writers, eventsPerCommit, commitsPerWriter),
            new OrdersEsAppend(databases, writers, eventsPerCommit, commitsPerWriter),
            new MartenAppend(databases, writers, eventsPerCommit, commitsPerWriter));

    /// <summary>
    /// One event per commit on a server with fsync and synchronous_commit on: every commit waits for its WAL flush, so
    /// the disk, not the client, sets the pace. OrdersEs against the hand-written Npgsql append only.
    /// </summary>
    public static Task<IReadOnlyList<Figure>> DurableAsync(BenchDatabase databases, int writers, int commitsPerWriter, int rounds) =>
        Comparison.RunAsync($"{DurablePrefix} 1 ev/commit, {writers} writers", "events/s", higherIsBetter: true, rounds,
            new RawNpgsqlAppend(databases, writers, 1, commitsPerWriter),
            new OrdersEsAppend(databases, writers, 1, commitsPerWriter));

    public const string DurablePrefix = "append, fsync on:";

    /// <summary>Per writer: the stream it appends to and that stream's version.</summary>
    private sealed class Streams(int writers)
    {
        private readonly (string Id, int Version)[] _current = Enumerable.Range(0, writers).Select(_ => (NewId(), 0)).ToArray();

        public (string Id, int Version) Next(int writer, int events)
        {
            var (id, version) = _current[writer];
            if (version + events > EventsPerStream) (id, version) = (NewId(), 0);
            _current[writer] = (id, version + events);
            return (id, version);
        }

        private static string NewId() => Guid.NewGuid().ToString("N");
    }

    private sealed class OrdersEsAppend(BenchDatabase databases, int writers, int eventsPerCommit, int commits) : IContender
    {
        private readonly Streams _streams = new(writers);
        private EventStoreDatabase? _database;
        private EfCoreEventStore? _store;

        public string Name => "OrdersEs EF Core store";

        public async Task SetupAsync()
        {
            _database = new EventStoreDatabase(BenchDatabase.Store(await databases.CreateAsync("orderses")));
            await _database.EnsureSchemaAsync();
            _store = new EfCoreEventStore(_database, BenchKernel.Envelopes(BenchKernel.Serializer()), null, new EventStoreSignal());
        }

        public Task<double> MeasureAsync() => Comparison.ThroughputAsync(writers, commits, async (writer, _) =>
        {
            var (id, version) = _streams.Next(writer, eventsPerCommit);
            await _store!.AppendAsync(id, "Tally", BenchKernel.Items(id, eventsPerCommit, version), version);
        }).ContinueWith(t => t.Result * eventsPerCommit);

        public async ValueTask DisposeAsync()
        {
            if (_database is not null) await _database.DisposeAsync();
        }
    }

    /// <summary>
    /// What a careful engineer would hand-write: the same event rows and outbox rows (same columns and defaults)
    /// in one implicit transaction, one round trip, the unique constraint as the optimistic check.
    /// </summary>
    private sealed class RawNpgsqlAppend(BenchDatabase databases, int writers, int eventsPerCommit, int commits) : IContender
    {
        private readonly Streams _streams = new(writers);
        private readonly EventSerializer _serializer = BenchKernel.Serializer();
        private NpgsqlDataSource? _dataSource;

        public string Name => "hand-written Npgsql";

        public async Task SetupAsync()
        {
            var connectionString = await databases.CreateAsync("raw");
            await using (var schema = new EventStoreDatabase(BenchDatabase.Store(connectionString)))
                await schema.EnsureSchemaAsync();
            // Prepared statements and no reset on giving a connection back, as OrdersEs's own data source uses: the
            // baseline gets every trick we get.
            _dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 32, NoResetOnClose = true });
            await using var command = _dataSource.CreateCommand(RawSchema.DropOutboxTrigger);
            await command.ExecuteNonQueryAsync();
        }

        public Task<double> MeasureAsync() => Comparison.ThroughputAsync(writers, commits, async (writer, _) =>
        {
            var (id, version) = _streams.Next(writer, eventsPerCommit);
            await AppendAsync(id, BenchKernel.Items(id, eventsPerCommit, version), version);
        }).ContinueWith(t => t.Result * eventsPerCommit);

        private async Task AppendAsync(string streamId, DomainEvent[] events, int expectedVersion)
        {
            var count = events.Length;
            var ids = new string[count];
            var sequences = new int[count];
            var types = new string[count];
            var payloads = new string[count];
            var now = DateTime.SpecifyKind(DateTime.UtcNow, DateTimeKind.Unspecified);
            for (var i = 0; i < count; i++)
            {
                ids[i] = Guid.CreateVersion7().ToString("N");
                sequences[i] = expectedVersion + i + 1;
                types[i] = _serializer.TypeNameOf(events[i]);
                payloads[i] = PyflyRows.Envelope(ids[i], streamId, "Tally", sequences[i], types[i], _serializer.Serialize(events[i]), "{}", now);
            }
            await using var batch = _dataSource!.CreateBatch();
            batch.BatchCommands.Add(new NpgsqlBatchCommand(RawSchema.InsertEvents)
            {
                Parameters =
                {
                    new NpgsqlParameter<string[]> { TypedValue = ids },
                    new NpgsqlParameter<string> { TypedValue = streamId },
                    new NpgsqlParameter<int[]> { TypedValue = sequences },
                    new NpgsqlParameter<string[]> { TypedValue = types },
                    new NpgsqlParameter<string[]> { TypedValue = payloads },
                    new NpgsqlParameter<DateTime> { TypedValue = now, NpgsqlDbType = NpgsqlDbType.Timestamp },
                },
            });
            batch.BatchCommands.Add(new NpgsqlBatchCommand(RawSchema.InsertOutbox)
            {
                Parameters =
                {
                    new NpgsqlParameter<string[]> { TypedValue = ids },
                    new NpgsqlParameter<string> { TypedValue = streamId },
                    new NpgsqlParameter<int[]> { TypedValue = sequences },
                },
            });
            await batch.ExecuteNonQueryAsync();
        }

        public async ValueTask DisposeAsync()
        {
            if (_dataSource is not null) await _dataSource.DisposeAsync();
        }
    }

    private sealed class MartenAppend(BenchDatabase databases, int writers, int eventsPerCommit, int commits) : IContender
    {
        private readonly Streams _streams = new(writers);
        private DocumentStore? _store;

        public string Name => "Marten 9.58 Quick append";

        public async Task SetupAsync()
        {
            var connectionString = await databases.CreateAsync("marten");
            _store = DocumentStore.For(options =>
            {
                options.Connection(connectionString);
                options.Events.AppendMode = EventAppendMode.Quick;
                options.Events.StreamIdentity = StreamIdentity.AsString;
                options.DisableNpgsqlLogging = true;
            });
            await _store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        }

        public Task<double> MeasureAsync() => Comparison.ThroughputAsync(writers, commits, async (writer, _) =>
        {
            var (id, version) = _streams.Next(writer, eventsPerCommit);
            await using var session = _store!.LightweightSession();
            var events = BenchKernel.Items(id, eventsPerCommit, version).Cast<object>().ToArray();
            if (version == 0) session.Events.StartStream(id, events);
            else session.Events.Append(id, version + eventsPerCommit, events);
            await session.SaveChangesAsync();
        }).ContinueWith(t => t.Result * eventsPerCommit);

        public ValueTask DisposeAsync()
        {
            _store?.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
