using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrdersEs.Infrastructure.Messaging;
using RabbitMQ.Client;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Messaging;

/// <summary>Serializes the tests that use the shared broker: one of them stops it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RabbitMqCollection
{
    public const string Name = "RabbitMQ broker";
}

[Collection(RabbitMqCollection.Name)]
public sealed class RabbitMqEventPublisherTests
{
    private static readonly TimeSpan Arrival = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_published_envelope_arrives_on_a_queue_bound_by_event_type_persistent_with_all_headers()
    {
        var url = await RabbitMqTestBroker.UrlAsync();
        var exchange = RabbitMqTestBroker.UniqueName("arrives");
        await using var queue = await BoundQueue.BindAsync(url, exchange, "ThingHappened");
        await using var bus = RabbitMqTestBroker.Publisher(url);
        var envelope = TestEnvelopes.Happened(tenantId: "acme", metadata: new Dictionary<string, string> { ["correlation_id"] = "corr-7" });

        await new EventSourcingPublisher(bus, exchange).PublishAsync(envelope);

        var delivery = await queue.NextAsync(Arrival);
        Assert.NotNull(delivery);
        Assert.Equal(exchange, delivery.Exchange);
        Assert.Equal("ThingHappened", delivery.RoutingKey);
        Assert.Equal(envelope.Payload, Encoding.UTF8.GetString(delivery.Body.Span));
        var properties = delivery.BasicProperties;
        Assert.Equal(DeliveryModes.Persistent, properties.DeliveryMode);
        Assert.Equal("application/json", properties.ContentType);
        Assert.Equal(envelope.EventId, properties.MessageId);
        Assert.Equal("ThingHappened", properties.Type);
        var headers = properties.Headers!.ToDictionary(h => h.Key, h => BoundQueue.Text(h.Value));
        Assert.Equal("counter-42", headers["aggregate_id"]);
        Assert.Equal("Counter", headers["aggregate_type"]);
        Assert.Equal("3", headers["sequence"]);
        Assert.Equal("2", headers["version"]);
        Assert.Equal("acme", headers["tenant_id"]);
        Assert.Equal("ThingHappened", headers["event_type"]);
        Assert.Equal(envelope.EventId, headers["event_id"]);
        Assert.Equal(TestEnvelopes.HappenedOccurredAt, headers["occurred_at"]);
        Assert.Equal("corr-7", headers["correlation_id"]);
    }

    [Fact]
    public async Task The_exchange_is_a_durable_topic_so_wildcard_bindings_see_every_event_type()
    {
        var url = await RabbitMqTestBroker.UrlAsync();
        var exchange = RabbitMqTestBroker.UniqueName("topic");
        await using var bus = RabbitMqTestBroker.Publisher(url);
        // The publisher declares the exchange itself: publish once before anything is bound.
        await bus.PublishAsync(new EventMessage(exchange, "Warmup", "m-0", "{}", new Dictionary<string, string>()));
        await using var queue = await BoundQueue.BindAsync(url, exchange, "#");

        await bus.PublishAsync(new EventMessage(exchange, "thing_renamed_v2", "m-1", "{}", new Dictionary<string, string>()));
        await bus.PublishAsync(new EventMessage(exchange, "CounterClosed", "m-2", "{}", new Dictionary<string, string>()));

        Assert.Equal("m-1", (await queue.NextAsync(Arrival))?.BasicProperties.MessageId);
        Assert.Equal("m-2", (await queue.NextAsync(Arrival))?.BasicProperties.MessageId);
    }

    [Fact]
    public async Task Publishing_an_event_no_queue_is_bound_for_succeeds()
    {
        await using var bus = RabbitMqTestBroker.Publisher(await RabbitMqTestBroker.UrlAsync());

        await bus.PublishAsync(new EventMessage(RabbitMqTestBroker.UniqueName("unbound"), "Nobody", "m-1", "{}", new Dictionary<string, string>()));
        await bus.PublishAsync(new EventMessage(RabbitMqTestBroker.UniqueName("unbound"), "Nobody", "m-2", "{}", new Dictionary<string, string>()));
    }

    [Fact]
    public async Task Concurrent_publishes_share_the_channel_pool_and_all_arrive()
    {
        var url = await RabbitMqTestBroker.UrlAsync();
        var exchange = RabbitMqTestBroker.UniqueName("concurrent");
        await using var queue = await BoundQueue.BindAsync(url, exchange, "#");
        await using var bus = RabbitMqTestBroker.Publisher(url);

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            bus.PublishAsync(new EventMessage(exchange, "Tick", $"m-{i}", "{}", new Dictionary<string, string>()))));

        var ids = new HashSet<string>();
        for (var i = 0; i < 50; i++) ids.Add((await queue.NextAsync(Arrival))?.BasicProperties.MessageId ?? "missing");
        Assert.Equal(50, ids.Count);
        Assert.DoesNotContain("missing", ids);
    }

    [Fact]
    public async Task Messages_published_in_order_all_in_flight_at_once_arrive_in_that_order()
    {
        var url = await RabbitMqTestBroker.UrlAsync();
        var exchange = RabbitMqTestBroker.UniqueName("in-order");
        await using var queue = await BoundQueue.BindAsync(url, exchange, "#");
        await using var bus = RabbitMqTestBroker.Publisher(url);
        var messages = Enumerable.Range(0, 300)
            .Select(i => new EventMessage(exchange, i % 2 == 0 ? "Tick" : "Tock", $"m-{i}", "{}", new Dictionary<string, string>()))
            .ToArray();

        // Several aggregates at once, as the outbox dispatcher publishes them, each on its own channel.
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => bus.PublishInOrderAsync(messages)));

        Assert.All(outcomes, outcome => Assert.Equal(new PublishOutcome(300, null), outcome));
        var positions = new Dictionary<string, List<int>>();
        for (var i = 0; i < 900; i++)
        {
            var id = (await queue.NextAsync(Arrival))?.BasicProperties.MessageId ?? "missing";
            if (!positions.TryGetValue(id, out var seen)) positions[id] = seen = [];
            seen.Add(i);
        }
        Assert.Equal(300, positions.Count);
        // Each copy of the sequence arrives in order: the k-th arrival of m-i comes after the k-th arrival of m-(i-1).
        for (var i = 1; i < 300; i++)
        {
            var (earlier, later) = (positions[$"m-{i - 1}"], positions[$"m-{i}"]);
            for (var copy = 0; copy < 3; copy++) Assert.True(earlier[copy] < later[copy], $"copy {copy} of m-{i} overtook m-{i - 1}");
        }
    }

    [Fact]
    public async Task Messages_published_in_order_report_a_failure_with_its_message_and_none_after_it_as_accepted()
    {
        var url = await RabbitMqTestBroker.UrlAsync();
        var fanout = RabbitMqTestBroker.UniqueName("fanout-in-order");
        await using var setup = await new ConnectionFactory { Uri = new Uri(url) }.CreateConnectionAsync();
        await using var channel = await setup.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(fanout, ExchangeType.Fanout, durable: false, autoDelete: true);
        await using var bus = RabbitMqTestBroker.Publisher(url);
        var good = RabbitMqTestBroker.UniqueName("good-in-order");

        var outcome = await bus.PublishInOrderAsync([
            new EventMessage(good, "ThingHappened", "m-1", "{}", new Dictionary<string, string>()),
            new EventMessage(fanout, "ThingHappened", "m-2", "{}", new Dictionary<string, string>()),
        ]);

        // The exchange of the second message cannot be declared, so nothing went out.
        Assert.Equal(0, outcome.Accepted);
        var error = Assert.IsType<EventPublishException>(outcome.Error);
        Assert.Contains("m-2", error.Message);
        Assert.Equal(new PublishOutcome(1, null), await bus.PublishInOrderAsync([new EventMessage(good, "ThingHappened", "m-3", "{}", new Dictionary<string, string>())]));
    }

    [Fact]
    public async Task Publishing_to_an_exchange_of_another_type_throws_EventPublishException_and_the_publisher_keeps_working()
    {
        var url = await RabbitMqTestBroker.UrlAsync();
        var fanout = RabbitMqTestBroker.UniqueName("fanout");
        {
            await using var setup = await new ConnectionFactory { Uri = new Uri(url) }.CreateConnectionAsync();
            await using var channel = await setup.CreateChannelAsync();
            await channel.ExchangeDeclareAsync(fanout, ExchangeType.Fanout, durable: false, autoDelete: true);
            await using var bus = RabbitMqTestBroker.Publisher(url);

            var error = await Assert.ThrowsAsync<EventPublishException>(() =>
                bus.PublishAsync(new EventMessage(fanout, "ThingHappened", "m-1", "{}", new Dictionary<string, string>())));
            Assert.Contains(fanout, error.Message);

            await bus.PublishAsync(new EventMessage(RabbitMqTestBroker.UniqueName("after"), "ThingHappened", "m-2", "{}", new Dictionary<string, string>()));
        }
    }

    [Fact]
    public async Task Publishing_to_an_unreachable_broker_throws_EventPublishException_quickly_without_the_password()
    {
        await using var bus = RabbitMqTestBroker.Publisher(RabbitMqTestBroker.ClosedPortUrl());
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<EventPublishException>(() =>
            bus.PublishAsync(new EventMessage("pyfly.events", "ThingHappened", "m-1", "{}", new Dictionary<string, string>())));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Contains("unreachable", error.Message);
        Assert.DoesNotContain("guest:guest", error.Message);
    }

    [Fact]
    public async Task Health_check_is_unhealthy_for_an_unreachable_broker_and_healthy_for_a_running_one()
    {
        var url = await RabbitMqTestBroker.UrlAsync();
        await using var down = RabbitMqTestBroker.Publisher(RabbitMqTestBroker.ClosedPortUrl());
        await using var up = RabbitMqTestBroker.Publisher(url);

        Assert.Equal(HealthStatus.Unhealthy, (await CheckAsync(down)).Status);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(up)).Status);
    }

    [Fact]
    public async Task While_the_broker_is_stopped_publish_fails_fast_and_health_is_unhealthy_then_both_recover_after_restart()
    {
        var url = await RabbitMqTestBroker.UrlAsync();
        var exchange = RabbitMqTestBroker.UniqueName("outage");
        await using var bus = RabbitMqTestBroker.Publisher(url);
        EventMessage Message(int i) => new(exchange, "ThingHappened", $"m-{i}", "{}", new Dictionary<string, string>());
        var shutDownDuringOutage = RabbitMqTestBroker.Publisher(url);
        await bus.PublishAsync(Message(0));
        await shutDownDuringOutage.PublishAsync(Message(0));
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(bus)).Status);

        await RabbitMqTestBroker.StopAppAsync();
        try
        {
            var disposal = Stopwatch.StartNew();
            await shutDownDuringOutage.DisposeAsync();
            Assert.True(disposal.Elapsed < TimeSpan.FromSeconds(10), $"disposing during the outage took {disposal.Elapsed}");

            for (var attempt = 1; attempt <= 3; attempt++)
            {
                var clock = Stopwatch.StartNew();
                await Assert.ThrowsAsync<EventPublishException>(() => bus.PublishAsync(Message(attempt)));
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"attempt {attempt} took {clock.Elapsed}");
            }
            Assert.Equal(HealthStatus.Unhealthy, (await CheckAsync(bus)).Status);
        }
        finally
        {
            await RabbitMqTestBroker.StartAppAsync();
        }

        // The queue's connection died with the broker: bind a fresh one, then publish until recovery completes.
        await using var queue = await BoundQueue.BindAsync(url, exchange, "ThingHappened");
        var recovery = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await bus.PublishAsync(Message(100));
                break;
            }
            catch (EventPublishException) when (recovery.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(500);
            }
        }
        Assert.Equal("m-100", (await queue.NextAsync(Arrival))?.BasicProperties.MessageId);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(bus)).Status);
    }

    // As the service wires it: the RabbitMQ publisher is the bus and its probe.
    private static Task<HealthCheckResult> CheckAsync(IEventPublisher bus) =>
        new EventBusHealthCheck(bus, bus as IEventBusProbe).CheckHealthAsync(new HealthCheckContext
        {
            Registration = new HealthCheckRegistration(EventBusHealthCheck.Name, _ => null!, HealthStatus.Unhealthy, ["ready"]),
        });
}
