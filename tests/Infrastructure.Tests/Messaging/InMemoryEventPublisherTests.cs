using OrdersEs.Infrastructure.Messaging;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Messaging;

public sealed class InMemoryEventPublisherTests
{
    private static EventMessage Message(string destination = "pyfly.events", string eventType = "OrderPlaced") =>
        new(destination, eventType, "evt-1", """{"a":1}""", new Dictionary<string, string> { ["aggregate_id"] = "order-1" });

    [Fact]
    public async Task Subscribers_of_the_destination_receive_the_envelope_with_body_and_all_headers()
    {
        var bus = new InMemoryEventPublisher();
        var received = new List<EventMessage>();
        using var _ = bus.Subscribe("pyfly.events", (message, _) => { received.Add(message); return Task.CompletedTask; });
        var bridge = new EventSourcingPublisher(bus);
        var envelope = TestEnvelopes.Placed(tenantId: "acme", metadata: new Dictionary<string, string> { ["correlation_id"] = "corr-9" });

        await bridge.PublishAsync(envelope);

        var message = Assert.Single(received);
        Assert.Equal("pyfly.events", message.Destination);
        Assert.Equal("OrderPlaced", message.EventType);
        Assert.Equal(envelope.EventId, message.MessageId);
        Assert.Equal(envelope.Payload, message.Body);
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["aggregate_id"] = "order-42",
                ["aggregate_type"] = "Order",
                ["sequence"] = "3",
                ["version"] = "2",
                ["tenant_id"] = "acme",
                ["event_type"] = "OrderPlaced",
                ["event_id"] = envelope.EventId,
                ["occurred_at"] = TestEnvelopes.PlacedOccurredAt,
                ["correlation_id"] = "corr-9",
            },
            message.Headers.OrderBy(h => h.Key).ToDictionary());
    }

    [Fact]
    public async Task Subscribers_of_other_destinations_or_event_types_receive_nothing()
    {
        var bus = new InMemoryEventPublisher();
        var all = 0;
        var placedOnly = 0;
        var otherDestination = 0;
        using var a = bus.Subscribe("pyfly.events", (_, _) => { all++; return Task.CompletedTask; });
        using var b = bus.Subscribe("pyfly.events", "OrderPlaced", (_, _) => { placedOnly++; return Task.CompletedTask; });
        using var c = bus.Subscribe("other.events", (_, _) => { otherDestination++; return Task.CompletedTask; });

        await bus.PublishAsync(Message(eventType: "OrderPlaced"));
        await bus.PublishAsync(Message(eventType: "OrderConfirmed"));

        Assert.Equal((2, 1, 0), (all, placedOnly, otherDestination));
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
