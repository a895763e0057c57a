using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.EventStore;

/// <summary>Validates an append request and turns its events into envelopes numbered after the expected version.</summary>
public sealed class EnvelopeFactory(EventSerializer serializer, TimeProvider timeProvider)
{
    public const int MaxIdLength = 64;
    public const int MaxTypeLength = 255;

    public EventSerializer Serializer { get; } = serializer;

    public StoredEventEnvelope[] Create(
        string aggregateId, string aggregateType, IReadOnlyList<DomainEvent> events, int expectedVersion, EventContext? context)
    {
        Validate(aggregateId, aggregateType, expectedVersion);
        context ??= EventContext.None;
        if (context.TenantId is { Length: > MaxIdLength })
            throw new ArgumentException($"Tenant id is longer than {MaxIdLength} characters.", nameof(context));
        var metadata = context.ToMetadata();
        // Microseconds, as pyfly's datetime and both databases' TIMESTAMP hold it: what is stored is what was returned.
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var occurredAt = new DateTimeOffset(now.Ticks - now.Ticks % 10, TimeSpan.Zero);
        var envelopes = new StoredEventEnvelope[events.Count];
        for (var i = 0; i < envelopes.Length; i++)
        {
            var domainEvent = events[i];
            envelopes[i] = new StoredEventEnvelope
            {
                EventId = Guid.CreateVersion7(occurredAt).ToString("N"),
                AggregateId = aggregateId,
                AggregateType = aggregateType,
                Sequence = expectedVersion + i + 1,
                EventType = Serializer.TypeNameOf(domainEvent),
                Payload = Serializer.Serialize(domainEvent),
                Metadata = metadata,
                OccurredAt = occurredAt,
                TenantId = context.TenantId,
            };
        }
        return envelopes;
    }

    public static void Validate(string aggregateId, string aggregateType, int expectedVersion)
    {
        if (string.IsNullOrEmpty(aggregateId) || aggregateId.Length > MaxIdLength)
            throw new ArgumentException($"Aggregate id must be 1-{MaxIdLength} characters.", nameof(aggregateId));
        if (string.IsNullOrEmpty(aggregateType) || aggregateType.Length > MaxTypeLength)
            throw new ArgumentException($"Aggregate type must be 1-{MaxTypeLength} characters.", nameof(aggregateType));
        ArgumentOutOfRangeException.ThrowIfNegative(expectedVersion);
    }
}
