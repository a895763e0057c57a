using OrdersEs.Api.Http;

namespace OrdersEs.Api.Orders;

/// <summary>Maps every order use case under <c>/api/orders</c>; each lives in its own file.</summary>
public sealed class OrderEndpoints : IEndpointGroup
{
    public void Map(IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/orders").WithTags("Orders");
        PlaceOrderEndpoint.Map(group);
        AddLineEndpoint.Map(group);
        RemoveLineEndpoint.Map(group);
        ConfirmOrderEndpoint.Map(group);
        ShipOrderEndpoint.Map(group);
        CancelOrderEndpoint.Map(group);
        GetOrderEndpoint.Map(group);
        ListOrdersEndpoint.Map(group);
        GetOrderEventsEndpoint.Map(group);
    }
}
