using OrdersEs.Domain.Orders;
using Xunit;

namespace OrdersEs.Domain.Tests.Orders;

public class OrderTests
{
    private static readonly OrderLine Widget = new("WID-1", 2, 1_250);
    private static readonly OrderLine Gadget = new("gad_2.b", 1, 999);

    private static Order Placed(params OrderLine[] lines) =>
        Order.Place("o-1", "c-1", "EUR", lines.Length == 0 ? [Widget] : lines);

    [Fact]
    public void Place_raises_OrderPlaced_with_lines_and_total()
    {
        var order = Placed(Widget, Gadget);
        Assert.Equal(OrderStatus.Placed, order.Status);
        Assert.Equal("o-1", order.Id);
        Assert.Equal(2 * 1_250 + 999, order.Total);
        Assert.Equal(1, order.Version);
        Assert.IsType<OrderPlaced>(Assert.Single(order.PendingEvents));
    }

    [Theory]
    [InlineData("", "EUR")]
    [InlineData("c", "eur")]
    [InlineData("c", "EURO")]
    public void Place_with_bad_customer_or_currency_throws_ArgumentException(string customerId, string currency)
    {
        Assert.ThrowsAny<ArgumentException>(() => Order.Place("o-1", customerId, currency, [Widget]));
    }

    [Fact]
    public void Place_enforces_line_count_limits()
    {
        Assert.ThrowsAny<ArgumentException>(() => Order.Place("o-1", "c", "EUR", []));
        var tooMany = Enumerable.Range(0, 101).Select(i => new OrderLine($"S{i}", 1, 1)).ToArray();
        Assert.ThrowsAny<ArgumentException>(() => Order.Place("o-1", "c", "EUR", tooMany));
        var hundred = tooMany[..100];
        Assert.Equal(100, Order.Place("o-1", "c", "EUR", hundred).Lines.Count);
    }

    [Fact]
    public void Place_with_duplicate_sku_throws_ArgumentException()
    {
        Assert.ThrowsAny<ArgumentException>(() => Placed(Widget, Widget with { Quantity = 5 }));
    }

    [Theory]
    [InlineData("", 1, 0)]
    [InlineData("has space", 1, 0)]
    [InlineData("S", 0, 0)]
    [InlineData("S", 10_001, 0)]
    [InlineData("S", 1, -1)]
    [InlineData("S", 1, 100_000_001)]
    public void Line_limits_are_enforced(string sku, int quantity, long unitPrice)
    {
        Assert.ThrowsAny<ArgumentException>(() => Placed(new OrderLine(sku, quantity, unitPrice)));
    }

    [Fact]
    public void Line_limits_accept_the_boundaries()
    {
        var order = Placed(new OrderLine(new string('a', 64), 10_000, 100_000_000), new OrderLine("Z", 1, 0));
        Assert.Equal(10_000L * 100_000_000, order.Total);
    }

    [Fact]
    public void Lines_can_be_added_and_removed_while_placed()
    {
        var order = Placed();
        order.AddLine(Gadget);
        order.RemoveLine(Widget.Sku);
        Assert.Equal([Gadget], order.Lines);
        Assert.Equal(3, order.Version);
    }

    [Fact]
    public void Adding_a_duplicate_sku_is_a_rule_violation()
    {
        var order = Placed();
        Assert.Throws<OrderRuleException>(() => order.AddLine(Widget with { Quantity = 9 }));
        Assert.Equal(1, order.Version);
    }

    [Fact]
    public void Adding_the_101st_line_is_a_rule_violation()
    {
        var order = Placed(Enumerable.Range(0, 100).Select(i => new OrderLine($"S{i}", 1, 1)).ToArray());
        Assert.Throws<OrderRuleException>(() => order.AddLine(new OrderLine("extra", 1, 1)));
    }

    [Fact]
    public void Removing_an_unknown_or_the_last_line_is_a_rule_violation()
    {
        var order = Placed();
        Assert.Throws<OrderRuleException>(() => order.RemoveLine("nope"));
        Assert.Throws<OrderRuleException>(() => order.RemoveLine(Widget.Sku));
    }

    [Fact]
    public void Lines_cannot_change_after_confirm()
    {
        var order = Placed(Widget, Gadget);
        order.Confirm();
        Assert.Throws<OrderRuleException>(() => order.AddLine(new OrderLine("new", 1, 1)));
        Assert.Throws<OrderRuleException>(() => order.RemoveLine(Widget.Sku));
    }

    [Fact]
    public void Happy_path_placed_confirmed_shipped()
    {
        var order = Placed();
        order.Confirm();
        order.Ship("TRACK-1");
        Assert.Equal(OrderStatus.Shipped, order.Status);
        Assert.Equal("TRACK-1", order.TrackingNumber);
        Assert.Equal(3, order.Version);
    }

    [Fact]
    public void Ship_before_confirm_is_a_rule_violation()
    {
        var order = Placed();
        Assert.Throws<OrderRuleException>(() => order.Ship("T"));
    }

    [Fact]
    public void Confirm_twice_is_a_rule_violation()
    {
        var order = Placed();
        order.Confirm();
        Assert.Throws<OrderRuleException>(() => order.Confirm());
    }

    [Fact]
    public void Cancel_from_placed_or_confirmed_but_not_after_shipping_or_cancelling()
    {
        var placed = Placed();
        placed.Cancel("changed my mind");
        Assert.Equal(OrderStatus.Cancelled, placed.Status);
        Assert.Throws<OrderRuleException>(() => placed.Cancel("again"));
        Assert.Throws<OrderRuleException>(() => placed.Confirm());

        var confirmed = Placed();
        confirmed.Confirm();
        confirmed.Cancel("out of stock");
        Assert.Equal(OrderStatus.Cancelled, confirmed.Status);

        var shipped = Placed();
        shipped.Confirm();
        shipped.Ship("T");
        Assert.Throws<OrderRuleException>(() => shipped.Cancel("too late"));
    }

    [Fact]
    public void Tracking_number_and_reason_limits_are_enforced()
    {
        var order = Placed();
        order.Confirm();
        Assert.ThrowsAny<ArgumentException>(() => order.Ship(""));
        Assert.ThrowsAny<ArgumentException>(() => order.Ship(new string('t', 65)));
        Assert.ThrowsAny<ArgumentException>(() => order.Cancel(""));
        Assert.ThrowsAny<ArgumentException>(() => order.Cancel(new string('r', 501)));
        order.Cancel(new string('r', 500));
    }

    [Fact]
    public void Replaying_the_pending_events_rebuilds_the_same_state()
    {
        var order = Placed(Widget);
        order.AddLine(Gadget);
        order.Confirm();
        order.Ship("T-9");
        var copy = new Order();
        foreach (var e in order.PendingEvents) copy.Replay(e);
        Assert.Equal(order.CaptureSnapshot() with { Lines = [] }, copy.CaptureSnapshot() with { Lines = [] });
        Assert.Equal(order.Lines, copy.Lines);
        Assert.Equal(order.Version, copy.Version);
        Assert.Equal("o-1", copy.Id);
    }

    [Fact]
    public void Snapshot_round_trip_restores_state()
    {
        var order = Placed(Widget, Gadget);
        order.Confirm();
        var restored = new Order();
        restored.RestoreSnapshot(order.CaptureSnapshot());
        Assert.Equal(order.Status, restored.Status);
        Assert.Equal(order.Lines, restored.Lines);
        Assert.Equal(order.Total, restored.Total);
    }
}
