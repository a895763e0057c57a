using System.Text.Json;
using System.Text.Json.Serialization;

using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>
/// Turns events into snake_case JSON payloads (as pyfly writes them) and back, by their registered names.
/// </summary>
public sealed class EventSerializer(EventTypeRegistry registry)
{
    /// <summary>The JSON settings of payloads, metadata and snapshots.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public EventTypeRegistry Registry { get; } = registry;

    public string TypeNameOf(DomainEvent domainEvent) => Registry.NameOf(domainEvent.GetType());

    public string Serialize(DomainEvent domainEvent) =>
        JsonSerializer.Serialize(domainEvent, domainEvent.GetType(), Options);

    public DomainEvent Deserialize(StoredEventEnvelope envelope)
    {
        var type = Registry.Resolve(envelope.EventType);
        try
        {
            return (DomainEvent)(JsonSerializer.Deserialize(envelope.Payload, type, Options)
                ?? throw new JsonException("payload is null"));
        }
        catch (JsonException e)
        {
            throw new EventHandlerException(
                $"Event {envelope.EventId} ({envelope.EventType}) of {envelope.AggregateId} does not deserialize: {e.Message}", e);
        }
    }

    public static string SerializeMetadata(IReadOnlyDictionary<string, string> metadata) =>
        metadata.Count == 0 ? "{}" : JsonSerializer.Serialize(metadata, Options);

    /// <summary>Reads a metadata object; non-string values (from other writers) are kept as their JSON text.</summary>
    public static IReadOnlyDictionary<string, string> DeserializeMetadata(string? json)
    {
        if (string.IsNullOrWhiteSpace(json) || json == "{}") return EventMetadata.Empty;
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Object) return EventMetadata.Empty;
        var metadata = new Dictionary<string, string>();
        foreach (var property in document.RootElement.EnumerateObject())
        {
            metadata[property.Name] = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString()!,
                _ => property.Value.GetRawText(),
            };
        }
        return metadata;
    }
}
