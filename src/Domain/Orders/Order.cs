using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Domain.Orders;

public enum OrderStatus
{
    Placed,
    Confirmed,
    Shipped,
    Cancelled,
}

/// <summary>The state an order snapshot holds; raise <see cref="Order.SnapshotSchemaVersion"/> when it changes shape.</summary>
public sealed record OrderSnapshot(string CustomerId, string Currency, OrderStatus Status, IReadOnlyList<OrderLine> Lines, string? TrackingNumber, string? CancellationReason);

/// <summary>
/// An order: placed with lines, then confirmed and shipped, or cancelled before shipping.
/// Lines change only while placed. Input limits throw <see cref="ArgumentException"/>; state rules throw <see cref="OrderRuleException"/>.
/// </summary>
public sealed class Order : AggregateRoot, ISnapshotCapable<OrderSnapshot>
{
    private readonly List<OrderLine> _lines = [];

    public static int SnapshotSchemaVersion => 1;

    public string CustomerId { get; private set; } = "";
    public string Currency { get; private set; } = "";
    public OrderStatus Status { get; private set; }
    public string? TrackingNumber { get; private set; }
    public string? CancellationReason { get; private set; }
    public IReadOnlyList<OrderLine> Lines => _lines;
    public long Total => _lines.Sum(l => l.Total);

    /// <summary>Places a new order with 1-100 lines of distinct SKUs.</summary>
    public static Order Place(string orderId, string customerId, string currency, IReadOnlyList<OrderLine> lines)
    {
        OrderRules.RequireLength(orderId, OrderRules.MaxIdLength, nameof(orderId));
        OrderRules.RequireLength(customerId, OrderRules.MaxIdLength, nameof(customerId));
        if (currency is null || !OrderRules.CurrencyPattern().IsMatch(currency))
            throw new ArgumentException("currency must be three upper-case letters.", nameof(currency));
        ArgumentNullException.ThrowIfNull(lines);
        if (lines.Count is < 1 or > OrderRules.MaxLines)
            throw new ArgumentException($"An order has 1-{OrderRules.MaxLines} lines.", nameof(lines));
        foreach (var line in lines) OrderRules.RequireValid(line);
        if (lines.Select(l => l.Sku).Distinct(StringComparer.Ordinal).Count() != lines.Count)
            throw new ArgumentException("Each SKU may appear once per order.", nameof(lines));

        var order = new Order();
        order.Apply(new OrderPlaced(orderId, customerId, currency, lines.ToArray()));
        return order;
    }

    public void AddLine(OrderLine line)
    {
        OrderRules.RequireValid(line);
        RequireStatus(OrderStatus.Placed, "add a line");
        if (_lines.Any(l => l.Sku == line.Sku))
            throw new OrderRuleException($"The order already has a line for SKU '{line.Sku}'.");
        if (_lines.Count >= OrderRules.MaxLines)
            throw new OrderRuleException($"The order already has {OrderRules.MaxLines} lines.");
        Apply(new OrderLineAdded(Id, line));
    }

    public void RemoveLine(string sku)
    {
        RequireStatus(OrderStatus.Placed, "remove a line");
        if (!_lines.Any(l => l.Sku == sku))
            throw new OrderRuleException($"The order has no line for SKU '{sku}'.");
        if (_lines.Count == 1)
            throw new OrderRuleException("The last line cannot be removed: cancel the order instead.");
        Apply(new OrderLineRemoved(Id, sku));
    }

    public void Confirm()
    {
        RequireStatus(OrderStatus.Placed, "confirm");
        Apply(new OrderConfirmed(Id));
    }

    public void Ship(string trackingNumber)
    {
        OrderRules.RequireLength(trackingNumber, OrderRules.MaxTrackingNumberLength, nameof(trackingNumber));
        RequireStatus(OrderStatus.Confirmed, "ship");
        Apply(new OrderShipped(Id, trackingNumber));
    }

    public void Cancel(string reason)
    {
        OrderRules.RequireLength(reason, OrderRules.MaxReasonLength, nameof(reason));
        if (Status is not (OrderStatus.Placed or OrderStatus.Confirmed))
            throw new OrderRuleException($"A {Status.ToString().ToLowerInvariant()} order cannot be cancelled.");
        Apply(new OrderCancelled(Id, reason));
    }

    public OrderSnapshot CaptureSnapshot() =>
        new(CustomerId, Currency, Status, _lines.ToArray(), TrackingNumber, CancellationReason);

    public void RestoreSnapshot(OrderSnapshot state)
    {
        CustomerId = state.CustomerId;
        Currency = state.Currency;
        Status = state.Status;
        TrackingNumber = state.TrackingNumber;
        CancellationReason = state.CancellationReason;
        _lines.Clear();
        _lines.AddRange(state.Lines);
    }

    private void RequireStatus(OrderStatus required, string action)
    {
        if (Status != required)
            throw new OrderRuleException($"Cannot {action}: the order is {Status.ToString().ToLowerInvariant()}, not {required.ToString().ToLowerInvariant()}.");
    }

    private void OnOrderPlaced(OrderPlaced e)
    {
        Id = e.OrderId;
        CustomerId = e.CustomerId;
        Currency = e.Currency;
        Status = OrderStatus.Placed;
        _lines.AddRange(e.Lines);
    }

    private void OnOrderLineAdded(OrderLineAdded e) => _lines.Add(e.Line);

    private void OnOrderLineRemoved(OrderLineRemoved e) => _lines.RemoveAll(l => l.Sku == e.Sku);

    private void OnOrderConfirmed(OrderConfirmed e) => Status = OrderStatus.Confirmed;

    private void OnOrderShipped(OrderShipped e)
    {
        Status = OrderStatus.Shipped;
        TrackingNumber = e.TrackingNumber;
    }

    private void OnOrderCancelled(OrderCancelled e)
    {
        Status = OrderStatus.Cancelled;
        CancellationReason = e.Reason;
    }
}

/// <summary>A state rule of an order refused a command (a 409 problem).</summary>
public sealed class OrderRuleException(string message) : DomainRuleException(message);
