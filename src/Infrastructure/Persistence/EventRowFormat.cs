using System.Buffers;
using System.Globalization;
using System.Text.Json;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>
/// pyfly's row format of <c>pyfly_event_store</c> (v26.07): the <c>payload</c> column holds the whole envelope as
/// JSON, shaped as pyfly's <c>StoredEventEnvelope.to_json()</c> shapes it, and pyfly reads nothing else. We write
/// that, and read it or a bare event payload (rows from before, or written by hand), row by row.
/// </summary>
/// <remarks>
/// A row is an envelope row when its <c>payload</c> column is a JSON object holding every key pyfly's
/// <c>from_json</c> requires and its <c>event_id</c> equals the row's <c>event_id</c> column; any other row is
/// a bare row, whose column is the event payload itself. An envelope row must agree with its columns on the
/// stream position and identity; its <c>metadata</c> and <c>occurred_at</c> (with offset and microseconds) are
/// the envelope's, since pyfly leaves the <c>metadata</c> column <c>'{}'</c> and drops the offset from the column.
/// </remarks>
internal static class EventRowFormat
{
    /// <summary>The keys pyfly's <c>from_json</c> reads with <c>data[...]</c>; <c>tenant_id</c> is optional.</summary>
    private static readonly string[] RequiredKeys =
        ["event_id", "aggregate_id", "aggregate_type", "sequence", "event_type", "payload", "metadata", "occurred_at", "version"];

    // Only what JSON needs escaped: the column is never embedded in HTML, and "+00:00" should read as written.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly string[] OccurredAtFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd HH:mm:ss.FFFFFFFzzz", "yyyy-MM-dd HH:mm:ss.FFFFFFF'Z'", "yyyy-MM-dd HH:mm:ss.FFFFFFF",
    ];

    /// <summary>The <c>payload</c> column of an envelope: its JSON with the keys in pyfly's order, the event payload inside.</summary>
    public static string PayloadColumn(StoredEventEnvelope envelope)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + envelope.Payload.Length);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("event_id", envelope.EventId);
            json.WriteString("aggregate_id", envelope.AggregateId);
            json.WriteString("aggregate_type", envelope.AggregateType);
            json.WriteNumber("sequence", envelope.Sequence);
            json.WriteString("event_type", envelope.EventType);
            json.WritePropertyName("payload");
            json.WriteRawValue(envelope.Payload, skipInputValidation: true); // our serializer's output
            json.WriteStartObject("metadata");
            foreach (var (key, value) in envelope.Metadata) json.WriteString(key, value);
            json.WriteEndObject();
            json.WriteString("occurred_at", FormatOccurredAt(envelope.OccurredAt));
            json.WriteNumber("version", envelope.SchemaVersion);
            if (envelope.TenantId is null) json.WriteNull("tenant_id");
            else json.WriteString("tenant_id", envelope.TenantId);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// A time as Python's <c>datetime.isoformat()</c> writes an aware UTC one: <c>2026-07-01T10:00:00.123456+00:00</c>,
    /// the fraction left out when it is zero. Finer than microseconds is cut.
    /// </summary>
    public static string FormatOccurredAt(DateTimeOffset value)
    {
        var utc = value.UtcDateTime;
        var microseconds = utc.Ticks % TimeSpan.TicksPerSecond / 10;
        var seconds = utc.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        return microseconds == 0
            ? seconds + "+00:00"
            : seconds + "." + microseconds.ToString("D6", CultureInfo.InvariantCulture) + "+00:00";
    }

    /// <summary>An ISO-8601 time as <c>datetime.fromisoformat</c> reads what pyfly writes; no offset means UTC.</summary>
    public static bool TryParseOccurredAt(string text, out DateTimeOffset value)
    {
        if (DateTimeOffset.TryParseExact(text, OccurredAtFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value))
        {
            value = value.ToUniversalTime();
            return true;
        }
        return false;
    }

    /// <summary>
    /// The envelope of one row, in either format; throws <see cref="EventDecodingException"/> for a malformed envelope row
    /// (or metadata column), carrying the row as its columns give it (<see cref="EventDecodingException.Row"/>) when the
    /// row has its place in the global order, so a reader can name it and pass over it. With
    /// <paramref name="objectPayload"/>, a bare row whose payload is no JSON object is malformed too (an envelope row's
    /// payload always is one).
    /// </summary>
    public static StoredEventEnvelope Decode(EventRow row, long commitId = 0, bool objectPayload = false)
    {
        try
        {
            return DecodeRow(row, commitId, objectPayload);
        }
        catch (EventDecodingException unreadable) when (unreadable.Row is null && row.GlobalPosition is not null)
        {
            unreadable.Row = Columns(row, commitId);
            throw;
        }
    }

    // The envelope as the row's columns give it, payload column as it is, metadata left out.
    private static StoredEventEnvelope Columns(EventRow row, long commitId) => new()
    {
        EventId = row.EventId,
        AggregateId = row.AggregateId,
        AggregateType = row.AggregateType,
        Sequence = row.Sequence,
        EventType = row.EventType,
        Payload = row.Payload,
        OccurredAt = EventRowReader.AsUtc(row.OccurredAt),
        SchemaVersion = row.Version,
        TenantId = row.TenantId,
        GlobalPosition = row.GlobalPosition ?? 0,
        CommitId = commitId,
    };

    private static StoredEventEnvelope DecodeRow(EventRow row, long commitId, bool objectPayload)
    {
        using var envelope = EnvelopeOf(row);
        if (envelope is null)
        {
            if (objectPayload && !IsJsonObject(row.Payload))
                throw new EventDecodingException(row.EventId, row.EventType, row.AggregateId, "(the payload)", "is not a JSON object");
            return Columns(row, commitId) with { Metadata = MetadataColumn(row) };
        }

        var root = envelope.RootElement;
        Agree(row, root, "aggregate_id", row.AggregateId);
        Agree(row, root, "aggregate_type", row.AggregateType);
        AgreeNumber(row, root, "sequence", row.Sequence);
        Agree(row, root, "event_type", row.EventType);
        AgreeNumber(row, root, "version", row.Version);
        var tenant = root.TryGetProperty("tenant_id", out var tenantValue) ? tenantValue : default;
        if (tenant.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.String))
            throw Malformed(row, "tenant_id", "is not a string or null");
        var tenantId = tenant.ValueKind == JsonValueKind.String ? tenant.GetString() : null;
        if (!string.Equals(tenantId, row.TenantId, StringComparison.Ordinal))
            throw Malformed(row, "tenant_id", $"is {Quote(tenantId)} but the row's tenant_id column is {Quote(row.TenantId)}");

        var payload = root.GetProperty("payload");
        if (payload.ValueKind != JsonValueKind.Object) throw Malformed(row, "payload", "is not a JSON object");
        var metadata = root.GetProperty("metadata");
        if (metadata.ValueKind != JsonValueKind.Object) throw Malformed(row, "metadata", "is not a JSON object");
        var occurredAt = root.GetProperty("occurred_at");
        if (occurredAt.ValueKind != JsonValueKind.String || !TryParseOccurredAt(occurredAt.GetString()!, out var at))
            throw Malformed(row, "occurred_at", "is not an ISO-8601 time");

        return new StoredEventEnvelope
        {
            EventId = row.EventId,
            AggregateId = row.AggregateId,
            AggregateType = row.AggregateType,
            Sequence = row.Sequence,
            EventType = row.EventType,
            Payload = payload.GetRawText(),
            Metadata = EventSerializer.ReadMetadata(metadata),
            OccurredAt = at,
            SchemaVersion = row.Version,
            TenantId = row.TenantId,
            GlobalPosition = row.GlobalPosition ?? 0,
            CommitId = commitId,
        };
    }

    /// <summary>Whether <paramref name="text"/> is one JSON object (what an event's payload is; a bare row from another writer may hold anything).</summary>
    private static bool IsJsonObject(string text)
    {
        var span = text.AsSpan().Trim();
        if (span.Length < 2 || span[0] != '{' || span[^1] != '}') return false;
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The parsed envelope when the row is an envelope row, else null (a bare row).</summary>
    private static JsonDocument? EnvelopeOf(EventRow row)
    {
        var text = row.Payload.AsSpan().TrimStart();
        if (text.IsEmpty || text[0] != '{') return null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(row.Payload);
        }
        catch (JsonException)
        {
            return null; // not JSON at all: a bare payload, which typed decoding will refuse
        }
        var root = document.RootElement;
        var isEnvelope = root.ValueKind == JsonValueKind.Object
            && root.TryGetProperty("event_id", out var eventId) && eventId.ValueKind == JsonValueKind.String
            && eventId.ValueEquals(row.EventId);
        foreach (var key in RequiredKeys)
        {
            if (!isEnvelope) break;
            isEnvelope = root.TryGetProperty(key, out _);
        }
        if (isEnvelope) return document;
        document.Dispose();
        return null;
    }

    private static IReadOnlyDictionary<string, string> MetadataColumn(EventRow row)
    {
        try
        {
            return EventSerializer.DeserializeMetadata(row.Metadata);
        }
        catch (JsonException e)
        {
            throw new EventDecodingException(row.EventId, row.EventType, row.AggregateId, "metadata column", "is not JSON", e);
        }
    }

    private static void Agree(EventRow row, JsonElement root, string key, string column)
    {
        var value = root.GetProperty(key);
        if (value.ValueKind != JsonValueKind.String) throw Malformed(row, key, "is not a string");
        if (!value.ValueEquals(column))
            throw Malformed(row, key, $"is {Quote(value.GetString())} but the row's {key} column is {Quote(column)}");
    }

    private static void AgreeNumber(EventRow row, JsonElement root, string key, int column)
    {
        var value = root.GetProperty(key);
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number)) throw Malformed(row, key, "is not an integer");
        if (number != column) throw Malformed(row, key, $"is {number} but the row's {key} column is {column}");
    }

    private static EventDecodingException Malformed(EventRow row, string key, string problem) =>
        new(row.EventId, row.EventType, row.AggregateId, "envelope." + key, problem);

    private static string Quote(string? value) => value is null ? "null" : $"'{value}'";
}
