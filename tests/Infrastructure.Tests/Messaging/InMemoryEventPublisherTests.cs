using OrdersEs.Infrastructure.Messaging;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Messaging;

public sealed class InMemoryEventPublisherTests
{
    private static EventMessage Message(string destination = "pyfly.events", string eventType = "ThingHappened") =>
        new(destination, eventType, "evt-1", """{"a":1}""", new Dictionary<string, string> { ["aggregate_id"] = "counter-1" });

    [Fact]
    public async Task Subscribers_of_the_destination_receive_the_envelope_with_body_and_all_headers()
    {
        var bus = new InMemoryEventPublisher();
        var received = new List<EventMessage>();
        using var _ = bus.Subscribe("pyfly.events", (message, _) => { received.Add(message); return Task.CompletedTask; });
        var bridge = new EventSourcingPublisher(bus);
        var envelope = TestEnvelopes.Happened(tenantId: "acme", metadata: new Dictionary<string, string> { ["correlation_id"] = "corr-9" });

        await bridge.PublishAsync(envelope);

        var message = Assert.Single(received);
        Assert.Equal("pyfly.events", message.Destination);
        Assert.Equal("ThingHappened", message.EventType);
        Assert.Equal(envelope.EventId, message.MessageId);
        Assert.Equal(envelope.Payload, message.Body);
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["aggregate_id"] = "counter-42",
                ["aggregate_type"] = "Counter",
                ["sequence"] = "3",
                ["version"] = "2",
                ["tenant_id"] = "acme",
                ["event_type"] = "ThingHappened",
                ["event_id"] = envelope.EventId,
                ["occurred_at"] = TestEnvelopes.HappenedOccurredAt,
                ["correlation_id"] = "corr-9",
            },
            message.Headers.OrderBy(h => h.Key).ToDictionary());
    }

    [Fact]
    public async Task Subscribers_of_other_destinations_or_event_types_receive_nothing()
    {
        var bus = new InMemoryEventPublisher();
        var all = 0;
        var happenedOnly = 0;
        var otherDestination = 0;
        using var a = bus.Subscribe("pyfly.events", (_, _) => { all++; return Task.CompletedTask; });
        using var b = bus.Subscribe("pyfly.events", "ThingHappened", (_, _) => { happenedOnly++; return Task.CompletedTask; });
        using var c = bus.Subscribe("other.events", (_, _) => { otherDestination++; return Task.CompletedTask; });

        await bus.PublishAsync(Message(eventType: "ThingHappened"));
        await bus.PublishAsync(Message(eventType: "thing_renamed_v2"));

        Assert.Equal((2, 1, 0), (all, happenedOnly, otherDestination));
    }

    [Fact]
    public async Task A_disposed_subscription_receives_nothing_more()
    {
        var bus = new InMemoryEventPublisher();
        var count = 0;
        var subscription = bus.Subscribe("pyfly.events", (_, _) => { count++; return Task.CompletedTask; });
        await bus.PublishAsync(Message());

        subscription.Dispose();
        await bus.PublishAsync(Message());

        Assert.Equal(1, count);
    }

    [Fact]
    public async Task A_failing_subscriber_makes_publish_throw_after_the_other_subscribers_ran()
    {
        var bus = new InMemoryEventPublisher();
        var later = 0;
        using var failing = bus.Subscribe("pyfly.events", async (_, _) =>
        {
            await Task.Yield();
            throw new InvalidOperationException("read model down");
        });
        using var healthy = bus.Subscribe("pyfly.events", (_, _) => { later++; return Task.CompletedTask; });

        var error = await Assert.ThrowsAsync<EventPublishException>(() => bus.PublishAsync(Message()));

        Assert.Equal("read model down", Assert.IsType<InvalidOperationException>(error.InnerException).Message);
        Assert.Contains("1 of 2 subscribers", error.Message);
        Assert.Equal(1, later);
    }

    [Fact]
    public async Task Publishing_with_no_subscriber_succeeds()
    {
        await new InMemoryEventPublisher().PublishAsync(Message());
    }

    [Fact]
    public async Task A_cancelled_publish_throws_OperationCanceledException_not_a_publish_failure()
    {
        var bus = new InMemoryEventPublisher();
        using var cts = new CancellationTokenSource();
        using var _ = bus.Subscribe("pyfly.events", async (_, token) =>
        {
            await cts.CancelAsync();
            token.ThrowIfCancellationRequested();
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => bus.PublishAsync(Message(), cts.Token));
    }
}
