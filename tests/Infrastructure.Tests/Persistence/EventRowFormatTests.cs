using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Tests.Pyfly;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Persistence;

/// <summary>The row format without a database: occurred-at as Python writes and reads it, and a row's round trip.</summary>
public sealed class EventRowFormatTests
{
    [Theory]
    [InlineData("2026-07-01T10:00:00.123456+00:00", 2026, 7, 1, 10, 0, 0, 1_234_560)]
    [InlineData("2026-07-01T12:00:00.000001+02:00", 2026, 7, 1, 10, 0, 0, 10)]
    [InlineData("2026-07-01T10:00:00+00:00", 2026, 7, 1, 10, 0, 0, 0)]
    [InlineData("2026-07-01T10:00:00Z", 2026, 7, 1, 10, 0, 0, 0)]
    [InlineData("2026-07-01T05:30:00.5-04:30", 2026, 7, 1, 10, 0, 0, 5_000_000)]
    [InlineData("2026-07-01 10:00:00.123", 2026, 7, 1, 10, 0, 0, 1_230_000)] // naive: UTC, as the columns are
    public void Occurred_at_reads_as_python_fromisoformat_reads_isoformat_output(string text, int y, int mo, int d, int h, int mi, int s, long ticks)
    {
        Assert.True(EventRowFormat.TryParseOccurredAt(text, out var value));
        Assert.Equal(new DateTimeOffset(y, mo, d, h, mi, s, TimeSpan.Zero).AddTicks(ticks), value);
        Assert.Equal(TimeSpan.Zero, value.Offset);
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2026-07-01")]
    [InlineData("01/07/2026 10:00:00")]
    [InlineData("")]
    public void Occurred_at_that_is_not_an_iso_time_is_refused(string text) =>
        Assert.False(EventRowFormat.TryParseOccurredAt(text, out _));

    [Fact]
    public void Occurred_at_is_written_as_python_isoformat_of_an_aware_utc_datetime()
    {
        var at = new DateTimeOffset(2026, 7, 1, 12, 0, 0, TimeSpan.FromHours(2));
        Assert.Equal("2026-07-01T10:00:00+00:00", EventRowFormat.FormatOccurredAt(at));
        Assert.Equal("2026-07-01T10:00:00.000001+00:00", EventRowFormat.FormatOccurredAt(at.AddTicks(19)));
        Assert.Equal(PyflyTable.IsoFormat(at.ToUniversalTime().AddTicks(1_234_560)), EventRowFormat.FormatOccurredAt(at.AddTicks(1_234_560)));
    }

    [Fact]
    public void A_row_we_write_decodes_to_the_same_envelope_and_pyfly_from_json_reads_it()
    {
        var envelope = new StoredEventEnvelope
        {
            EventId = "e-1",
            AggregateId = "c-1",
            AggregateType = "Counter",
            Sequence = 4,
            EventType = "thing_renamed_v2",
            Payload = """{"new_name":"T \"1\" ü"}""",
            Metadata = new Dictionary<string, string> { ["correlation_id"] = "c-1", ["caller"] = "ops" },
            OccurredAt = new DateTimeOffset(2026, 7, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(1_234_560),
            SchemaVersion = 2,
            TenantId = "t-1",
        };
        var column = EventRowFormat.PayloadColumn(envelope);
        var row = new EventRow
        {
            EventId = "e-1",
            AggregateId = "c-1",
            AggregateType = "Counter",
            Sequence = 4,
            EventType = "thing_renamed_v2",
            Payload = column,
            Metadata = "{}",
            OccurredAt = new DateTime(2026, 7, 1, 10, 0, 0),
            Version = 2,
            TenantId = "t-1",
            GlobalPosition = 9,
        };

        var decoded = EventRowFormat.Decode(row);
        Assert.Equal(envelope with { GlobalPosition = 9, Metadata = decoded.Metadata }, decoded);
        Assert.Equal(envelope.Metadata, decoded.Metadata);

        var pyfly = PyflyTable.FromJson(column);
        Assert.Equal(("e-1", 4, 2, "t-1", "T \"1\" ü"), (pyfly.EventId, pyfly.Sequence, pyfly.Version, pyfly.TenantId, pyfly.Payload["new_name"]!.GetValue<string>()));
        Assert.Equal(envelope.OccurredAt, pyfly.OccurredAt);
    }
}
