using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Tests.Messaging;

/// <summary>Envelopes with every field set to a recognisable value.</summary>
public static class TestEnvelopes
{
    public static StoredEventEnvelope Happened(
        int sequence = 3,
        string? tenantId = null,
        IReadOnlyDictionary<string, string>? metadata = null,
        string eventType = "ThingHappened") => new()
        {
            EventId = $"evt-{sequence}-{Guid.NewGuid():N}",
            AggregateId = "counter-42",
            AggregateType = "Counter",
            Sequence = sequence,
            EventType = eventType,
            Payload = """{"thing_name":"widget","how_many":99}""",
            Metadata = metadata ?? EventMetadata.Empty,
            OccurredAt = new DateTimeOffset(2025, 1, 31, 13, 0, 5, 123, TimeSpan.FromHours(1)).AddTicks(4560),
            SchemaVersion = 2,
            TenantId = tenantId,
            GlobalPosition = 17,
        };

    /// <summary><see cref="Happened"/>'s occurred-at as the bridge writes it.</summary>
    public const string HappenedOccurredAt = "2025-01-31T12:00:05.123456+00:00";
}
