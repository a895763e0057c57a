namespace OrdersEs.Api.Orders;

/// <summary>Maps every order use case under <c>/api/orders</c>; each lives in its own file.</summary>
public static class OrderEndpoints
{
    public static RouteGroupBuilder MapOrders(this IEndpointRouteBuilder app)
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
        return group;
    }

    /// <summary>The problems every write may answer with, besides its own.</summary>
    internal static RouteHandlerBuilder ProducesWriteProblems(this RouteHandlerBuilder builder) => builder
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status409Conflict)
        .ProducesProblem(StatusCodes.Status412PreconditionFailed)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    /// <summary>The problems of a write with a JSON body.</summary>
    internal static RouteHandlerBuilder ProducesBodyProblems(this RouteHandlerBuilder builder) => builder
        .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
        .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
}
