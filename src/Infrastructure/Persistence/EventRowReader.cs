using System.Data.Common;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>Reads <c>pyfly_event_store</c> rows selected by hand-written SQL into envelopes (one column list, one decoder: <see cref="EventRowFormat"/>).</summary>
internal static class EventRowReader
{
    /// <summary>The columns <see cref="Read"/> expects, in order.</summary>
    public const string Columns =
        "event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id, global_position";

    /// <summary><see cref="Columns"/> qualified by a table alias, for joins.</summary>
    public static string ColumnsOf(string alias) => string.Join(", ", Columns.Split(", ").Select(c => alias + "." + c));

    /// <summary>
    /// Reads the envelope whose columns start at <paramref name="first"/>, in either row format (<see cref="EventRowFormat"/>);
    /// a commit id, when selected, follows them. <paramref name="objectPayload"/>: see <see cref="EventRowFormat.Decode"/>.
    /// </summary>
    public static StoredEventEnvelope Read(DbDataReader reader, int first = 0, bool withCommitId = false, bool objectPayload = false) => EventRowFormat.Decode(new EventRow
    {
        EventId = reader.GetString(first),
        AggregateId = reader.GetString(first + 1),
        AggregateType = reader.GetString(first + 2),
        Sequence = reader.GetInt32(first + 3),
        EventType = reader.GetString(first + 4),
        Payload = reader.GetString(first + 5),
        Metadata = reader.GetString(first + 6),
        OccurredAt = reader.GetDateTime(first + 7),
        Version = reader.GetInt32(first + 8),
        TenantId = reader.IsDBNull(first + 9) ? null : reader.GetString(first + 9),
        GlobalPosition = reader.IsDBNull(first + 10) ? 0 : reader.GetInt64(first + 10),
    }, withCommitId ? reader.GetInt64(first + 11) : 0, objectPayload);

    /// <summary>The seed's <c>TIMESTAMP</c> columns have no zone: we always write UTC, so we read UTC back.</summary>
    public static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    /// <summary>A UTC time as the zone-less column value.</summary>
    public static DateTime ToColumn(DateTimeOffset value) => DateTime.SpecifyKind(value.UtcDateTime, DateTimeKind.Unspecified);
}
