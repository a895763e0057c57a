using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrdersEs.Api.Http;

namespace OrdersEs.Api.Orders;

/// <summary>Confirms a placed order.</summary>
public sealed record ConfirmOrderCommand(string OrderId, IfMatch? IfMatch, ApiRequestContext Request) : ICommand<OrderVersionResponse>;

/// <summary>Appends <c>OrderConfirmed</c>.</summary>
public sealed class ConfirmOrderHandler(OrderWriter writer) : ICommandHandler<ConfirmOrderCommand, OrderVersionResponse>
{
    public ValueTask<OrderVersionResponse> Handle(ConfirmOrderCommand command, CancellationToken cancellationToken) =>
        writer.ChangeAsync(command.OrderId, command.IfMatch, command.Request, order => order.Confirm(), cancellationToken);
}

/// <summary><c>POST /api/orders/{id}/confirm</c>.</summary>
public static class ConfirmOrderEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapPost("/{id}/confirm", HandleAsync)
        .WithName("ConfirmOrder")
        .WithSummary("Confirm a placed order")
        .ProducesWriteProblems();

    private static async Task<Ok<OrderVersionResponse>> HandleAsync(
        string id, [FromHeader(Name = ETags.IfMatchHeader)] string? ifMatch,
        ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken) =>
        OrderWriteResults.Ok(http, await mediator.Send(new ConfirmOrderCommand(id, ETags.ParseIfMatch(ifMatch), request), cancellationToken));
}
