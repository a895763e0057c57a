using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrdersEs.Bench.Scenarios;

/// <summary>
/// The hand-written baselines' own code for pyfly's row format (README, "Sharing the tables with pyfly"): the
/// <c>payload</c> column holds the envelope JSON, so they do the same work as OrdersEs to write and read it.
/// </summary>
public static class PyflyRows
{
    /// <summary>The <c>payload</c> column of one event: the envelope with the event payload and metadata inside.</summary>
    public static string Envelope(string eventId, string aggregateId, string aggregateType, int sequence, string eventType,
        string payload, string metadataJson, DateTime occurredUtc, string? tenantId = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + payload.Length);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("event_id", eventId);
            json.WriteString("aggregate_id", aggregateId);
            json.WriteString("aggregate_type", aggregateType);
            json.WriteNumber("sequence", sequence);
            json.WriteString("event_type", eventType);
            json.WritePropertyName("payload");
            json.WriteRawValue(payload, skipInputValidation: true);
            json.WritePropertyName("metadata");
            json.WriteRawValue(metadataJson, skipInputValidation: true);
            json.WriteString("occurred_at", occurredUtc.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "+00:00");
            json.WriteNumber("version", 1);
            if (tenantId is null) json.WriteNull("tenant_id");
            else json.WriteString("tenant_id", tenantId);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The event payload of a <c>payload</c> column OrdersEs wrote (the envelope's <c>payload</c>).</summary>
    public static string EventPayload(string payloadColumn)
    {
        using var envelope = JsonDocument.Parse(payloadColumn);
        return envelope.RootElement.GetProperty("payload").GetRawText();
    }
}
