using OrdersEs.Domain.EventSourcing;
using OrdersEs.Domain.Orders;
using OrdersEs.Domain.Tests.Kit;
using Xunit;

namespace OrdersEs.Domain.Tests.Orders;

/// <summary>The order's life cycle as given-when-then specs over its events.</summary>
public class OrderSpecs
{
    private static readonly OrderLine Widget = new("WID-1", 2, 1_250);
    private static readonly OrderLine Gadget = new("GAD-2", 1, 999);
    private static readonly OrderPlaced Placed = new("o-1", "c-1", "EUR", [Widget]);

    [Fact]
    public void Placing_raises_OrderPlaced_with_its_lines() =>
        AggregateSpec.For<Order>()
            .When(() => Order.Place("o-1", "c-1", "EUR", [Widget]))
            .Then(Placed);

    [Fact]
    public void A_placed_order_takes_a_new_line() =>
        AggregateSpec.For<Order>().Given(Placed)
            .When(order => order.AddLine(Gadget))
            .Then(new OrderLineAdded("o-1", Gadget));

    [Fact]
    public void A_sku_already_on_the_order_is_refused() =>
        AggregateSpec.For<Order>().Given(Placed)
            .When(order => order.AddLine(Widget with { Quantity = 5 }))
            .ThenThrows<DomainRuleException>();

    [Fact]
    public void The_last_line_cannot_be_removed() =>
        AggregateSpec.For<Order>().Given(Placed)
            .When(order => order.RemoveLine(Widget.Sku))
            .ThenThrows<DomainRuleException>();

    [Fact]
    public void A_confirmed_order_ships_and_then_cannot_be_cancelled()
    {
        var shipped = AggregateSpec.For<Order>().Given(Placed, new OrderConfirmed("o-1"))
            .When(order => order.Ship("TRACK-1"))
            .Then(new OrderShipped("o-1", "TRACK-1"));
        Assert.Equal(OrderStatus.Shipped, shipped.Status);

        AggregateSpec.For<Order>().Given(Placed, new OrderConfirmed("o-1"), new OrderShipped("o-1", "TRACK-1"))
            .When(order => order.Cancel("too late"))
            .ThenThrows<DomainRuleException>();
    }

    [Fact]
    public void Lines_change_only_while_placed() =>
        AggregateSpec.For<Order>().Given(Placed, new OrderConfirmed("o-1"))
            .When(order => order.AddLine(Gadget))
            .ThenThrows<DomainRuleException>();
}
