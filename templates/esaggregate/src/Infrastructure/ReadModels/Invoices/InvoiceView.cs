using OrdersEs.Domain.Invoices;

namespace OrdersEs.Infrastructure.ReadModels.Invoices;

/// <summary>A row of <c>invoices_view</c>: everything the invoice queries answer, kept by <see cref="InvoicesViewProjection"/>.</summary>
public sealed class InvoiceView
{
    public required string Id { get; init; }
    public string? TenantId { get; init; }
    public required string Name { get; set; }
    /// <summary>The <see cref="InvoiceStatus"/> name.</summary>
    public required string Status { get; set; }
    /// <summary>The sequence of the last event applied: events at or below it are ignored on redelivery.</summary>
    public int Version { get; set; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; set; }
}
