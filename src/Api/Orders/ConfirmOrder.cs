using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;

namespace OrdersEs.Api.Orders;

/// <summary>Confirms a placed order.</summary>
public sealed record ConfirmOrderCommand(string OrderId, IfMatch? IfMatch, ApiRequestContext Request) : ICommand<OrderVersionResponse>;

/// <summary>Appends <c>OrderConfirmed</c>.</summary>
public sealed class ConfirmOrderHandler(AggregateWriter<Order> writer) : ICommandHandler<ConfirmOrderCommand, OrderVersionResponse>
{
    public async ValueTask<OrderVersionResponse> Handle(ConfirmOrderCommand command, CancellationToken cancellationToken) =>
        OrderVersionResponse.Of(await writer.ChangeAsync(command.OrderId, command.IfMatch, command.Request, order => order.Confirm(), cancellationToken));
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
        (await mediator.Send(new ConfirmOrderCommand(id, ETags.ParseIfMatch(ifMatch), request), cancellationToken)).AsOk(http);
}
