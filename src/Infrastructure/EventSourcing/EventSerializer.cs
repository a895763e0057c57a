using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>
/// Turns events into snake_case JSON payloads (as pyfly writes them) and back, by their registered names.
/// Decoding is strict: a payload lacking a required member, holding null where the record does not allow it,
/// or a value of the wrong JSON kind, is an <see cref="EventDecodingException"/> naming the event and the member.
/// </summary>
public sealed class EventSerializer(EventTypeRegistry registry)
{
    /// <summary>
    /// The JSON settings of payloads, metadata and snapshots. Non-nullable members are required and may not be
    /// null (constructor parameters without a default value, <c>required</c> members); numbers are numbers.
    /// </summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        // Set here (not on first use) because PayloadSchema reads the contracts before anything is serialized.
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { LeaveOutComputedMembers } },
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>
    /// A payload holds the record's fields, as pyfly's <c>asdict</c> does: a read-only member that no constructor
    /// parameter sets (a computed <c>Total</c>, say) is derived, so it is neither written nor expected.
    /// </summary>
    private static void LeaveOutComputedMembers(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object) return;
        var parameters = info.Type.GetConstructors().SelectMany(c => c.GetParameters()).Select(p => p.Name)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        for (var i = info.Properties.Count - 1; i >= 0; i--)
        {
            var property = info.Properties[i];
            if (property.Set is null && property.AttributeProvider is System.Reflection.PropertyInfo member && !parameters.Contains(member.Name))
                info.Properties.RemoveAt(i);
        }
    }

    public EventTypeRegistry Registry { get; } = registry;

    public string TypeNameOf(DomainEvent domainEvent) => Registry.NameOf(domainEvent.GetType());

    public string Serialize(DomainEvent domainEvent) =>
        JsonSerializer.Serialize(domainEvent, domainEvent.GetType(), Options);

    /// <summary>The envelope's payload as its registered event type; throws <see cref="EventDecodingException"/> when it does not fit.</summary>
    public DomainEvent Deserialize(StoredEventEnvelope envelope)
    {
        var type = Registry.Resolve(envelope.EventType);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(envelope.Payload);
        }
        catch (JsonException e)
        {
            throw Failure(envelope, "(the payload)", "is not JSON", e);
        }
        using (document)
        {
            if (PayloadSchema.For(type, Options).FindViolation(document.RootElement) is { } violation)
                throw Failure(envelope, violation.Member, violation.Problem);
            try
            {
                return (DomainEvent)document.RootElement.Deserialize(type, Options)!;
            }
            catch (JsonException e)
            {
                // What the schema does not see: a number out of range, an unknown enum name, a malformed date.
                throw Failure(envelope, MemberOf(e.Path), "does not fit: " + WithoutPath(e.Message), e);
            }
        }
    }

    private static EventDecodingException Failure(StoredEventEnvelope envelope, string member, string problem, Exception? inner = null) =>
        new(envelope.EventId, envelope.EventType, envelope.AggregateId, member, problem, inner);

    private static string MemberOf(string? path) =>
        string.IsNullOrEmpty(path) || path == "$" ? "(the payload)" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    private static string WithoutPath(string message)
    {
        var at = message.IndexOf(" Path: ", StringComparison.Ordinal);
        return (at < 0 ? message : message[..at]).TrimEnd('.');
    }

    public static string SerializeMetadata(IReadOnlyDictionary<string, string> metadata) =>
        metadata.Count == 0 ? "{}" : JsonSerializer.Serialize(metadata, Options);

    /// <summary>Reads a metadata object; non-string values (from other writers) are kept as their JSON text.</summary>
    public static IReadOnlyDictionary<string, string> DeserializeMetadata(string? json)
    {
        if (string.IsNullOrWhiteSpace(json) || json == "{}") return EventMetadata.Empty;
        using var document = JsonDocument.Parse(json);
        return ReadMetadata(document.RootElement);
    }

    /// <summary>The entries of a metadata object; anything but an object reads as no metadata.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(JsonElement metadata)
    {
        if (metadata.ValueKind != JsonValueKind.Object) return EventMetadata.Empty;
        var entries = new Dictionary<string, string>();
        foreach (var property in metadata.EnumerateObject())
        {
            entries[property.Name] = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString()!,
                _ => property.Value.GetRawText(),
            };
        }
        return entries.Count == 0 ? EventMetadata.Empty : entries;
    }
}
