using System.Diagnostics;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Messaging;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Tests.Messaging;
using RabbitMQ.Client;
using Xunit;
using static OrdersEs.Infrastructure.Tests.Outbox.OutboxTestKit;

namespace OrdersEs.Infrastructure.Tests.Outbox;

/// <summary>The durable outbox delivering to the real broker, on each database; in the RabbitMQ collection because it stops the broker.</summary>
public abstract class OutboxRabbitMqContract : OwnsResources
{
    private static readonly TimeSpan Arrival = TimeSpan.FromSeconds(15);

    protected abstract Task<TestDatabase> CreateDatabaseAsync();

    private async Task<(EfCoreEventStore Store, EfCoreOutboxStore Outbox, EventStoreSignal Signal)> CreateAsync()
    {
        var database = Own(await CreateDatabaseAsync());
        var signal = new EventStoreSignal();
        return (new EfCoreEventStore(database.Database, TestKernel.Envelopes(), signal: signal), new EfCoreOutboxStore(database.Database), signal);
    }

    private async Task<RunningDispatcher> StartAsync(IOutboxStore outbox, EventStoreSignal signal, RabbitMqEventPublisher bus, string exchange, OutboxOptions options) =>
        Own(await RunningDispatcher.StartAsync(outbox, bus, signal, options,
            async token => (await bus.ProbeAsync(token)).Reachable, exchange));

    [Fact]
    public async Task Stored_event_arrives_on_a_bound_queue_with_routing_key_and_all_headers()
    {
        var url = await RabbitMqTestBroker.UrlAsync();
        var (store, outbox, signal) = await CreateAsync();
        var exchange = RabbitMqTestBroker.UniqueName("outbox");
        var bus = Own(RabbitMqTestBroker.Publisher(url));
        await using var queue = await BoundQueue.BindAsync(url, exchange, "ThingHappened");
        await StartAsync(outbox, signal, bus, exchange, FastOptions());

        var stored = (await store.AppendAsync("counter-9", "Counter", Things(1), 0,
            new EventContext(TenantId: "acme", CorrelationId: "corr-1", Extra: new Dictionary<string, string> { ["source"] = "test" })))[0];

        var message = await queue.NextAsync(Arrival);
        Assert.NotNull(message);
        Assert.Equal("ThingHappened", message.RoutingKey);
        Assert.Equal(stored.EventId, message.BasicProperties.MessageId);
        Assert.Equal(stored.Payload, System.Text.Encoding.UTF8.GetString(message.Body.Span));
        var headers = message.BasicProperties.Headers!.ToDictionary(h => h.Key, h => BoundQueue.Text(h.Value));
        Assert.Equal("counter-9", headers["aggregate_id"]);
        Assert.Equal("Counter", headers["aggregate_type"]);
        Assert.Equal("1", headers["sequence"]);
        Assert.Equal("1", headers["version"]);
        Assert.Equal("acme", headers["tenant_id"]);
        Assert.Equal("ThingHappened", headers["event_type"]);
        Assert.Equal(stored.EventId, headers["event_id"]);
        Assert.Equal("corr-1", headers["correlation_id"]);
        Assert.Equal("test", headers["source"]);
        await EventuallyAsync(async () => await outbox.GetCountsAsync() == new OutboxCounts(0, 0, 0), "the message marked delivered");
    }

    [Fact]
    public async Task While_the_broker_is_stopped_appends_succeed_and_every_message_is_delivered_after_it_starts()
    {
        var url = await RabbitMqTestBroker.UrlAsync();
        var (store, outbox, signal) = await CreateAsync();
        var exchange = RabbitMqTestBroker.UniqueName("outbox-outage");
        var queueName = RabbitMqTestBroker.UniqueName("outbox-outage-queue");
        var factory = new ConnectionFactory { Uri = new Uri(url) };
        await using (var setupConnection = await factory.CreateConnectionAsync())
        await using (var channel = await setupConnection.CreateChannelAsync())
        {
            // Durable, so the queue and its messages outlive stop_app.
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
            await channel.QueueDeclareAsync(queueName, durable: true, exclusive: false, autoDelete: false);
            await channel.QueueBindAsync(queueName, exchange, "#");
        }
        var bus = Own(RabbitMqTestBroker.Publisher(url));
        // Two attempts only: were the outage counted against the messages, they would be dead-lettered.
        var options = FastOptions(maxAttempts: 2);
        options.InitialRetryDelay = TimeSpan.FromMilliseconds(100);
        options.MaxRetryDelay = TimeSpan.FromSeconds(1);
        await StartAsync(outbox, signal, bus, exchange, options);
        await store.AppendAsync("before", "Counter", Things(1), 0);
        await EventuallyAsync(async () => (await outbox.GetCountsAsync()).Pending + (await outbox.GetCountsAsync()).InFlight == 0, "the first message delivered");

        await RabbitMqTestBroker.StopAppAsync();
        try
        {
            for (var i = 0; i < 5; i++) await store.AppendAsync($"during-{i}", "Counter", Things(2), 0);
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Equal(0, (await outbox.GetCountsAsync()).DeadLettered);
        }
        finally
        {
            await RabbitMqTestBroker.StartAppAsync();
        }

        await EventuallyAsync(async () => await outbox.GetCountsAsync() == new OutboxCounts(0, 0, 0), "every message delivered after the restart", TimeSpan.FromSeconds(60));
        await using var connection = await factory.CreateConnectionAsync();
        await using var consumer = await connection.CreateChannelAsync();
        try
        {
            var ids = new HashSet<string>();
            var clock = Stopwatch.StartNew();
            while (ids.Count < 11 && clock.Elapsed < Arrival)
            {
                var message = await consumer.BasicGetAsync(queueName, autoAck: true);
                if (message is null) await Task.Delay(50);
                else ids.Add(message.BasicProperties.MessageId!);
            }
            Assert.Equal(11, ids.Count);
        }
        finally
        {
            await consumer.QueueDeleteAsync(queueName);
        }
    }
}

[Collection(RabbitMqCollection.Name)]
public sealed class SqliteOutboxRabbitMqTests : OutboxRabbitMqContract
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabases.CreateSqlite());
}

[Collection(RabbitMqCollection.Name)]
public sealed class PostgresOutboxRabbitMqTests : OutboxRabbitMqContract
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabases.CreatePostgresAsync();
}
