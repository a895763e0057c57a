using System.Text.Json;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Api.Http;

/// <summary>One stored event of an aggregate: the envelope, with the snake_case payload as JSON.</summary>
public sealed record StoredEventResponse(
    string EventId, int Sequence, string EventType, JsonElement Payload, IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset OccurredAt, long GlobalPosition, int SchemaVersion)
{
    internal static StoredEventResponse From(StoredEventEnvelope envelope)
    {
        using var payload = JsonDocument.Parse(envelope.Payload);
        return new(envelope.EventId, envelope.Sequence, envelope.EventType, payload.RootElement.Clone(), envelope.Metadata,
            envelope.OccurredAt, envelope.GlobalPosition, envelope.SchemaVersion);
    }
}

/// <summary>Reads an aggregate's stored events straight from the event store (always current), for the caller's tenant only.</summary>
public sealed class AggregateEvents(IEventStore store)
{
    /// <summary>The stream of <typeparamref name="T"/> <paramref name="id"/> in sequence order; null when unknown, of another type or another tenant's.</summary>
    public async ValueTask<IReadOnlyList<StoredEventResponse>?> ReadAsync<T>(string id, ApiRequestContext request, CancellationToken cancellationToken)
        where T : AggregateRoot
    {
        if (id.Length > AggregateRoot.MaxIdLength) return null;
        var envelopes = await store.LoadAsync(id, 0, cancellationToken);
        if (envelopes.Count == 0 || envelopes[0].AggregateType != AggregateNames.Of<T>().Type
            || !request.Owns(envelopes[0].TenantId))
            return null;
        return envelopes.Select(StoredEventResponse.From).ToArray();
    }
}
