using System.Text.Json;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.ReadModels.Orders;

/// <summary>A row of <c>orders_view</c>: everything the order queries answer, kept by <see cref="OrdersViewProjection"/>.</summary>
public sealed class OrderView
{
    public required string Id { get; init; }
    public string? TenantId { get; init; }
    public required string CustomerId { get; init; }
    public required string Currency { get; init; }
    /// <summary>The <see cref="OrderStatus"/> name.</summary>
    public required string Status { get; set; }
    /// <summary>The lines as snake_case JSON.</summary>
    public required string LinesJson { get; set; }
    public long Total { get; set; }
    /// <summary>The sequence of the last event applied: events at or below it are ignored on redelivery.</summary>
    public int Version { get; set; }
    public DateTime PlacedAt { get; init; }
    public DateTime UpdatedAt { get; set; }

    // Lines stay objects while a projection batch changes them; the JSON is written once per batch (FlushLines).
    private IReadOnlyList<OrderLine>? _lines;
    private bool _linesChanged;

    public IReadOnlyList<OrderLine> Lines() =>
        _lines ??= JsonSerializer.Deserialize<OrderLine[]>(LinesJson, EventSerializer.Options) ?? [];

    /// <summary>Replaces the lines and the total; <see cref="LinesJson"/> follows at <see cref="FlushLines"/>.</summary>
    public void SetLines(IReadOnlyList<OrderLine> lines)
    {
        _lines = lines;
        _linesChanged = true;
        Total = lines.Sum(l => l.Total);
    }

    /// <summary>Writes changed lines to <see cref="LinesJson"/>; call before saving.</summary>
    public void FlushLines()
    {
        if (!_linesChanged) return;
        LinesJson = JsonSerializer.Serialize(_lines, EventSerializer.Options);
        _linesChanged = false;
    }
}
