using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Messaging;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Messaging;

public sealed class EventSourcingPublisherTests
{
    private sealed class RecordingPublisher(int failOnCall = 0) : IEventPublisher
    {
        public List<EventMessage> Published { get; } = [];

        public Task PublishAsync(EventMessage message, CancellationToken cancellationToken = default)
        {
            if (Published.Count + 1 == failOnCall) throw new EventPublishException("broker down");
            Published.Add(message);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task Headers_are_exactly_the_envelope_fields_without_tenant_when_none_is_set()
    {
        var bus = new RecordingPublisher();
        var envelope = TestEnvelopes.Happened();

        await new EventSourcingPublisher(bus).PublishAsync(envelope);

        var message = Assert.Single(bus.Published);
        Assert.Equal(
            ["aggregate_id", "aggregate_type", "event_id", "event_type", "occurred_at", "sequence", "version"],
            message.Headers.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("counter-42", message.Headers["aggregate_id"]);
        Assert.Equal("Counter", message.Headers["aggregate_type"]);
        Assert.Equal("3", message.Headers["sequence"]);
        Assert.Equal("2", message.Headers["version"]);
        Assert.Equal("ThingHappened", message.Headers["event_type"]);
        Assert.Equal(envelope.EventId, message.Headers["event_id"]);
        Assert.Equal(TestEnvelopes.HappenedOccurredAt, message.Headers["occurred_at"]);
    }

    [Fact]
    public async Task Tenant_id_header_is_present_when_the_envelope_has_a_tenant()
    {
        var bus = new RecordingPublisher();

        await new EventSourcingPublisher(bus).PublishAsync(TestEnvelopes.Happened(tenantId: "acme"));

        Assert.Equal("acme", Assert.Single(bus.Published).Headers["tenant_id"]);
    }

    [Fact]
    public async Task String_metadata_is_promoted_to_headers_but_never_overrides_a_reserved_header()
    {
        var bus = new RecordingPublisher();
        var metadata = new Dictionary<string, string>
        {
            [EventMetadata.CorrelationId] = "corr-1",
            [EventMetadata.CausationId] = "cause-1",
            ["user"] = "alice",
            ["aggregate_id"] = "forged",
            ["sequence"] = "999",
            ["version"] = "7",
            ["event_type"] = "Forged",
            ["event_id"] = "forged",
            ["occurred_at"] = "yesterday",
            ["aggregate_type"] = "Forged",
            ["tenant_id"] = "forged-tenant",
        };

        await new EventSourcingPublisher(bus).PublishAsync(TestEnvelopes.Happened(metadata: metadata));

        var headers = Assert.Single(bus.Published).Headers;
        Assert.Equal("corr-1", headers["correlation_id"]);
        Assert.Equal("cause-1", headers["causation_id"]);
        Assert.Equal("alice", headers["user"]);
        Assert.Equal("counter-42", headers["aggregate_id"]);
        Assert.Equal("Counter", headers["aggregate_type"]);
        Assert.Equal("3", headers["sequence"]);
        Assert.Equal("2", headers["version"]);
        Assert.Equal("ThingHappened", headers["event_type"]);
        Assert.StartsWith("evt-3-", headers["event_id"]);
        Assert.Equal(TestEnvelopes.HappenedOccurredAt, headers["occurred_at"]);
        // The tenant header comes from the envelope only; the envelope here has none.
        Assert.False(headers.ContainsKey("tenant_id"));
        Assert.Equal(10, headers.Count);
    }

    [Fact]
    public async Task Body_is_the_payload_verbatim_routed_by_event_type_on_the_configured_destination()
    {
        var bus = new RecordingPublisher();
        var envelope = TestEnvelopes.Happened(eventType: "thing_renamed_v2");

        await new EventSourcingPublisher(bus, "service.events").PublishAsync(envelope);

        var message = Assert.Single(bus.Published);
        Assert.Equal(("service.events", "thing_renamed_v2", envelope.EventId, envelope.Payload),
            (message.Destination, message.EventType, message.MessageId, message.Body));
    }

    [Fact]
    public async Task PublishAll_publishes_in_order_and_stops_at_the_first_failure()
    {
        var bus = new RecordingPublisher(failOnCall: 3);
        var envelopes = Enumerable.Range(1, 4).Select(i => TestEnvelopes.Happened(sequence: i)).ToList();

        await Assert.ThrowsAsync<EventPublishException>(() => new EventSourcingPublisher(bus).PublishAllAsync(envelopes));

        Assert.Equal(["1", "2"], bus.Published.Select(m => m.Headers["sequence"]));
    }
}
