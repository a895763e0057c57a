using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Domain.Orders;

/// <summary>One line of an order: amounts are integers in minor units (cents).</summary>
public sealed record OrderLine(string Sku, int Quantity, long UnitPrice)
{
    public long Total => Quantity * UnitPrice;
}

public sealed record OrderPlaced(string OrderId, string CustomerId, string Currency, IReadOnlyList<OrderLine> Lines) : DomainEvent;

public sealed record OrderLineAdded(string OrderId, OrderLine Line) : DomainEvent;

public sealed record OrderLineRemoved(string OrderId, string Sku) : DomainEvent;

public sealed record OrderConfirmed(string OrderId) : DomainEvent;

public sealed record OrderShipped(string OrderId, string TrackingNumber) : DomainEvent;

public sealed record OrderCancelled(string OrderId, string Reason) : DomainEvent;
