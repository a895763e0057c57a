using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Messaging;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Persistence;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OrdersEs.Bench.Scenarios;

/// <summary>
/// The outbox to RabbitMQ with publisher confirms. Throughput: N events are appended (10 per aggregate, one commit
/// each) with no dispatcher running, then the clock runs from starting the relay until every outbox row is marked
/// delivered. OrdersEs's <see cref="OutboxDispatcher"/> (over <see cref="EventSourcingPublisher"/> and
/// <see cref="RabbitMqEventPublisher"/>) against a hand-written RabbitMQ.Client relay of the same rows with the same
/// budget of in-flight confirms. Lag: appends at a steady rate while the dispatcher runs; lag is a consumer's receive
/// time minus the event's <c>occurred_at</c>, both read from this process's clock.
/// </summary>
public static class OutboxScenario
{
    public const string ThroughputPrefix = "outbox -> RabbitMQ";
    public const string OrdersEsName = "OrdersEs OutboxDispatcher";
    public const string PipelinedName = "hand-written, pipelined";
    public const string LagPrefix = "outbox lag";
    public const string LagP99Name = "p99 append -> consumer";

    private const int EventsPerAggregate = 10;

    public static Task<IReadOnlyList<Figure>> ThroughputAsync(BenchDatabase databases, Uri broker, int events, int rounds)
    {
        // Both relays get the publisher's default channel pool; each channel has at most one publish awaiting its confirm.
        var channels = new RabbitMqOptions { Url = broker }.MaxChannels;
        return Comparison.RunAsync($"{ThroughputPrefix}, {events:N0} msgs, {channels} channels", "msg/s", higherIsBetter: true, rounds,
            new HandWrittenRelay(databases, broker, events, channels, pipelined: false),
            new DispatcherRelay(databases, broker, events),
            new HandWrittenRelay(databases, broker, events, channels, pipelined: true));
    }

    /// <summary>A database with OrdersEs's schema (event store and outbox trigger) and an exchange with one durable queue bound to every key.</summary>
    private sealed class Rig(BenchDatabase databases, Uri broker, string purpose) : IAsyncDisposable
    {
        private IConnection? _connection;
        private IChannel? _admin;

        public string Exchange { get; } = $"bench.{purpose}.{Guid.NewGuid():N}"[..32];
        public string Queue => Exchange + ".q";
        public EventStoreDatabase Database { get; private set; } = null!;
        public EfCoreEventStore Store { get; private set; } = null!;
        public EventStoreSignal Signal { get; } = new();
        public IConnection Connection => _connection!;

        public async Task SetupAsync()
        {
            Database = new EventStoreDatabase(BenchDatabase.Store(await databases.CreateAsync(purpose)));
            await Database.EnsureSchemaAsync();
            Store = new EfCoreEventStore(Database, BenchKernel.Envelopes(BenchKernel.Serializer()), null, Signal);
            _connection = await new ConnectionFactory { Uri = broker, ClientProvidedName = "OrdersEs.Bench " + purpose }.CreateConnectionAsync();
            _admin = await _connection.CreateChannelAsync();
            await _admin.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true, autoDelete: false);
            await _admin.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false);
            await _admin.QueueBindAsync(Queue, Exchange, "#");
        }

        /// <summary>Appends <paramref name="events"/> events, <see cref="EventsPerAggregate"/> per aggregate in one commit, 8 writers.</summary>
        public Task AppendAsync(int events)
        {
            var remaining = events / EventsPerAggregate;
            return Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                while (Interlocked.Decrement(ref remaining) >= 0)
                {
                    var id = Guid.NewGuid().ToString("N");
                    await Store.AppendAsync(id, "Tally", BenchKernel.Items(id, EventsPerAggregate, 0), 0);
                }
            })));
        }

        /// <summary>Empties the queue, checking it got exactly the expected messages.</summary>
        public async Task PurgeAsync(int expected)
        {
            var got = await _admin!.QueuePurgeAsync(Queue);
            if (got != expected) Console.WriteLine($"    note: queue {Queue} held {got:N0} messages, expected {expected:N0}");
        }

        public async ValueTask DisposeAsync()
        {
            if (_admin is not null)
            {
                await _admin.QueueDeleteAsync(Queue);
                await _admin.ExchangeDeleteAsync(Exchange);
                await _admin.DisposeAsync();
            }
            if (_connection is not null) await _connection.DisposeAsync();
            if (Database is not null) await Database.DisposeAsync();
        }
    }

    /// <summary>The dispatcher's and the publisher's warnings (retries, outages) on the console: they explain a slow round.</summary>
    private static readonly ILoggerFactory Warnings = LoggerFactory.Create(logging => logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));

    private sealed class DispatcherRelay(BenchDatabase databases, Uri broker, int events) : IContender
    {
        private readonly Rig _rig = new(databases, broker, "outbox_orderses");
        private RabbitMqEventPublisher? _publisher;

        public string Name => OrdersEsName;

        public async Task SetupAsync()
        {
            await _rig.SetupAsync();
            _publisher = new RabbitMqEventPublisher(new RabbitMqOptions { Url = broker, ClientName = "OrdersEs.Bench dispatcher" },
                logger: Warnings.CreateLogger<RabbitMqEventPublisher>());
        }

        public async Task<double> MeasureAsync()
        {
            await _rig.AppendAsync(events);
            var store = new CountingOutboxStore(new EfCoreOutboxStore(_rig.Database), events);
            using var dispatcher = new OutboxDispatcher(store, new EventSourcingPublisher(_publisher!, _rig.Exchange), _rig.Signal,
                logger: Warnings.CreateLogger<OutboxDispatcher>());
            var clock = Stopwatch.StartNew();
            await dispatcher.StartAsync(CancellationToken.None);
            await store.AllDelivered.WaitAsync(TimeSpan.FromMinutes(10));
            var elapsed = clock.Elapsed;
            Console.WriteLine($"    dispatcher round: {elapsed.TotalSeconds:0.00} s; {store.DatabaseTime}");
            await dispatcher.StopAsync(CancellationToken.None);
            await _rig.PurgeAsync(events);
            return events / elapsed.TotalSeconds;
        }

        public async ValueTask DisposeAsync()
        {
            if (_publisher is not null) await _publisher.DisposeAsync();
            await _rig.DisposeAsync();
        }
    }

    /// <summary>Passes every call through; completes <see cref="AllDelivered"/> once <c>expected</c> messages are marked delivered.</summary>
    private sealed class CountingOutboxStore(IOutboxStore inner, int expected) : IOutboxStore
    {
        private readonly TaskCompletionSource _allDelivered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _delivered;

        public Task AllDelivered => _allDelivered.Task;

        // The dispatcher claims and marks from one loop, one call at a time: plain stopwatches add up its database time.
        private readonly Stopwatch _claiming = new();
        private readonly Stopwatch _marking = new();
        private int _claims;

        /// <summary>Where the round's time went, for the console: a slow round is usually a slow claim.</summary>
        public string DatabaseTime => $"{_claims} claims took {_claiming.Elapsed.TotalSeconds:0.00} s, marking delivered {_marking.Elapsed.TotalSeconds:0.00} s";

        public async Task<IReadOnlyList<OutboxMessage>> ClaimAsync(string owner, int batchSize, TimeSpan lease, CancellationToken cancellationToken)
        {
            _claiming.Start();
            var claimed = await inner.ClaimAsync(owner, batchSize, lease, cancellationToken);
            _claiming.Stop();
            _claims++;
            return claimed;
        }

        public async Task MarkDeliveredAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
        {
            _marking.Start();
            await inner.MarkDeliveredAsync(ids, cancellationToken);
            _marking.Stop();
            if (Interlocked.Add(ref _delivered, ids.Count) >= expected) _allDelivered.TrySetResult();
        }

        public Task<int> RenewClaimsAsync(string owner, IReadOnlyCollection<long> ids, TimeSpan lease, CancellationToken cancellationToken) =>
            inner.RenewClaimsAsync(owner, ids, lease, cancellationToken);

        public Task RetryLaterAsync(string owner, long id, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken) =>
            inner.RetryLaterAsync(owner, id, error, nextAttemptAt, cancellationToken);

        public Task DeadLetterAsync(string owner, long id, string error, CancellationToken cancellationToken) =>
            inner.DeadLetterAsync(owner, id, error, cancellationToken);

        public Task ReleaseAsync(string owner, IReadOnlyCollection<long> ids, CancellationToken cancellationToken) =>
            inner.ReleaseAsync(owner, ids, cancellationToken);

        public Task<int> PruneDeliveredAsync(DateTimeOffset deliveredBefore, CancellationToken cancellationToken) =>
            inner.PruneDeliveredAsync(deliveredBefore, cancellationToken);
    }

    /// <summary>
    /// What a careful engineer would hand-write for one relay instance: read undelivered rows joined to their events in
    /// id order, 500 at a time; spread aggregates over the channels by hash (so each aggregate's messages stay in order
    /// on one channel); publish each message persistent and mandatory, awaiting its confirm; mark the batch delivered in
    /// one UPDATE. Same body, headers and properties as <see cref="EventSourcingPublisher"/> writes. No claims or leases:
    /// it is not safe to run twice at once, which OrdersEs's dispatcher is.
    /// With <paramref name="pipelined"/>, each channel sends its whole share of the batch before awaiting the confirms
    /// (up to the client's limit of outstanding confirms): not the same budget, shown to tell what the broker can take.
    /// </summary>
    private sealed class HandWrittenRelay(BenchDatabase databases, Uri broker, int events, int channelCount, bool pipelined) : IContender
    {
        private const string SelectSql = """
            SELECT o.id, e.event_id, e.aggregate_id, e.aggregate_type, e.sequence, e.event_type, e.payload, e.metadata,
                   e.occurred_at, e.version, e.tenant_id
            FROM orderses_outbox o JOIN pyfly_event_store e ON e.event_id = o.event_id
            WHERE o.delivered_at IS NULL
            ORDER BY o.id
            LIMIT 500
            """;

        private const string MarkSql = "UPDATE orderses_outbox SET delivered_at = (now() AT TIME ZONE 'utc') WHERE id = ANY($1)";

        private readonly Rig _rig = new(databases, broker, pipelined ? "outbox_pipe" : "outbox_raw");
        private IChannel[] _channels = [];
        private NpgsqlDataSource? _dataSource;

        public string Name => pipelined ? PipelinedName : "hand-written RabbitMQ.Client";

        public async Task SetupAsync()
        {
            await _rig.SetupAsync();
            _dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(_rig.Database.Connection.ConnectionString) { NoResetOnClose = true });
            var options = new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);
            _channels = new IChannel[channelCount];
            for (var i = 0; i < channelCount; i++) _channels[i] = await _rig.Connection.CreateChannelAsync(options);
        }

        public async Task<double> MeasureAsync()
        {
            await _rig.AppendAsync(events);
            var clock = Stopwatch.StartNew();
            var relayed = 0;
            while (true)
            {
                var rows = await ReadBatchAsync();
                if (rows.Count == 0) break;
                var lanes = new List<Row>[_channels.Length];
                for (var i = 0; i < lanes.Length; i++) lanes[i] = [];
                foreach (var row in rows) lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(row.AggregateId) % (uint)lanes.Length)].Add(row);
                await Task.WhenAll(lanes.Select((lane, i) => PublishAsync(_channels[i], lane)));
                await using (var mark = _dataSource!.CreateCommand(MarkSql))
                {
                    mark.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = rows.Select(r => r.Id).ToArray() });
                    await mark.ExecuteNonQueryAsync();
                }
                relayed += rows.Count;
            }
            var elapsed = clock.Elapsed;
            await _rig.PurgeAsync(events);
            return relayed / elapsed.TotalSeconds;
        }

        private async Task<List<Row>> ReadBatchAsync()
        {
            await using var select = _dataSource!.CreateCommand(SelectSql);
            await using var reader = await select.ExecuteReaderAsync();
            var rows = new List<Row>(500);
            while (await reader.ReadAsync())
            {
                rows.Add(new Row(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                    reader.GetString(5), reader.GetString(6), reader.GetString(7), reader.GetDateTime(8), reader.GetInt32(9),
                    reader.IsDBNull(10) ? null : reader.GetString(10)));
            }
            return rows;
        }

        private async Task PublishAsync(IChannel channel, List<Row> lane)
        {
            if (pipelined)
            {
                await Task.WhenAll(lane.Select(row => PublishOneAsync(channel, row)));
                return;
            }
            foreach (var row in lane) await PublishOneAsync(channel, row);
        }

        private async Task PublishOneAsync(IChannel channel, Row row)
        {
            var headers = new Dictionary<string, object?>(8)
            {
                ["aggregate_id"] = row.AggregateId,
                ["aggregate_type"] = row.AggregateType,
                ["sequence"] = row.Sequence.ToString(CultureInfo.InvariantCulture),
                ["version"] = row.Version.ToString(CultureInfo.InvariantCulture),
                ["event_type"] = row.EventType,
                ["event_id"] = row.EventId,
                ["occurred_at"] = row.OccurredAt.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'+00:00'", CultureInfo.InvariantCulture),
            };
            if (row.TenantId is not null) headers["tenant_id"] = row.TenantId;
            if (row.Metadata.Length > 2)
            {
                foreach (var (name, value) in JsonSerializer.Deserialize<Dictionary<string, string?>>(row.Metadata)!)
                    if (value is not null) headers.TryAdd(name, value);
            }
            var properties = new BasicProperties
            {
                Persistent = true,
                ContentType = "application/json",
                ContentEncoding = "utf-8",
                MessageId = row.EventId,
                Type = row.EventType,
                Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
                Headers = headers,
            };
            await channel.BasicPublishAsync(_rig.Exchange, row.EventType, mandatory: true, properties, Encoding.UTF8.GetBytes(PyflyRows.EventPayload(row.Payload)));
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var channel in _channels) await channel.DisposeAsync();
            if (_dataSource is not null) await _dataSource.DisposeAsync();
            await _rig.DisposeAsync();
        }

        private sealed record Row(long Id, string EventId, string AggregateId, string AggregateType, int Sequence, string EventType,
            string Payload, string Metadata, DateTime OccurredAt, int Version, string? TenantId);
    }

    /// <summary>
    /// Appends one event per commit at <paramref name="eventsPerSecond"/> for <paramref name="duration"/> while the
    /// dispatcher runs; a consumer of a queue bound to the exchange records each message's receive time. Lag is receive
    /// time minus the event's <c>occurred_at</c> (taken before the append's round trip); its part after the append
    /// returned (commit -> consumer) is reported too. An uncounted warm-up round (connections, JIT), then
    /// <paramref name="rounds"/> rounds with the same dispatcher; each figure is the median of the rounds' percentiles.
    /// </summary>
    public static async Task<IReadOnlyList<Figure>> LagAsync(BenchDatabase databases, Uri broker, int eventsPerSecond, TimeSpan duration, int rounds)
    {
        await using var rig = new Rig(databases, broker, "outbox_lag");
        await rig.SetupAsync();
        var total = (int)(duration.TotalSeconds * eventsPerSecond);
        var receivedAt = new ConcurrentDictionary<string, (DateTimeOffset Occurred, DateTimeOffset Received)>();
        var received = 0;
        var expected = int.MaxValue;
        var allReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var consuming = await rig.Connection.CreateChannelAsync();
        var consumer = new AsyncEventingBasicConsumer(consuming);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            var now = DateTimeOffset.UtcNow;
            var headers = delivery.BasicProperties.Headers!;
            var occurredAt = DateTimeOffset.Parse(Encoding.UTF8.GetString((byte[])headers["occurred_at"]!), CultureInfo.InvariantCulture);
            receivedAt[Encoding.UTF8.GetString((byte[])headers["event_id"]!)] = (occurredAt, now);
            if (Interlocked.Increment(ref received) == Volatile.Read(ref expected)) allReceived.TrySetResult();
            return Task.CompletedTask;
        };
        await consuming.BasicConsumeAsync(rig.Queue, autoAck: true, consumer);

        await using var publisher = new RabbitMqEventPublisher(new RabbitMqOptions { Url = broker, ClientName = "OrdersEs.Bench lag" });
        using var dispatcher = new OutboxDispatcher(new EfCoreOutboxStore(rig.Database), new EventSourcingPublisher(publisher, rig.Exchange), rig.Signal);
        await dispatcher.StartAsync(CancellationToken.None);

        var p50 = new List<double>();
        var p99 = new List<double>();
        var p99AfterCommit = new List<double>();
        var achieved = new List<double>();
        for (var round = -1; round < rounds; round++)
        {
            receivedAt.Clear();
            var committedAt = new ConcurrentDictionary<string, DateTimeOffset>();
            allReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref received, 0);
            Volatile.Write(ref expected, total);
            var interval = TimeSpan.FromSeconds(1.0 / eventsPerSecond);
            var clock = Stopwatch.StartNew();
            var appends = new List<Task>(total);
            for (var i = 0; i < total; i++)
            {
                var due = interval * i;
                var wait = due - clock.Elapsed; // read once: Task.Delay refuses the negative wait a second read can give
                if (wait > TimeSpan.Zero) await Task.Delay(wait);
                var id = $"lag-{round + 1}-{i}";
                appends.Add(Task.Run(async () =>
                {
                    var stored = await rig.Store.AppendAsync(id, "Tally", BenchKernel.Items(id, 1, 0), 0);
                    committedAt[stored[0].EventId] = DateTimeOffset.UtcNow;
                }));
            }
            await Task.WhenAll(appends);
            var rate = total / clock.Elapsed.TotalSeconds;
            await allReceived.Task.WaitAsync(TimeSpan.FromSeconds(60));
            if (round < 0) continue;
            var lags = receivedAt.Values.Select(r => (r.Received - r.Occurred).TotalMilliseconds).ToArray();
            var afterCommit = receivedAt.Where(r => committedAt.ContainsKey(r.Key))
                .Select(r => Math.Max(0, (r.Value.Received - committedAt[r.Key]).TotalMilliseconds)).ToArray();
            achieved.Add(rate);
            p50.Add(Comparison.Percentile(lags, 50));
            p99.Add(Comparison.Percentile(lags, 99));
            p99AfterCommit.Add(Comparison.Percentile(afterCommit, 99));
        }
        await dispatcher.StopAsync(CancellationToken.None);

        var scenario = $"{LagPrefix}, {eventsPerSecond:N0}/s asked, {Comparison.Median(achieved):N0}/s appended";
        var figures = new[]
        {
            Figure.OfRounds(scenario, "p50 append -> consumer", "ms", p50, higherIsBetter: false),
            Figure.OfRounds(scenario, LagP99Name, "ms", p99, higherIsBetter: false),
            Figure.OfRounds(scenario, "p99 commit -> consumer", "ms", p99AfterCommit, higherIsBetter: false),
        };
        foreach (var f in figures) Console.WriteLine($"  {f.Scenario,-44} {f.Contender,-28} {f.Describe()}");
        return figures;
    }
}
