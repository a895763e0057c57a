using System.Text.Json;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.ReadModel;

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

    public IReadOnlyList<OrderLine> Lines() =>
        JsonSerializer.Deserialize<OrderLine[]>(LinesJson, EventSerializer.Options) ?? [];

    public void SetLines(IReadOnlyList<OrderLine> lines)
    {
        LinesJson = JsonSerializer.Serialize(lines, EventSerializer.Options);
        Total = lines.Sum(l => l.Total);
    }
}
