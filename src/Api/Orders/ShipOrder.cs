using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;

namespace OrdersEs.Api.Orders;

/// <summary>Body of <c>POST /api/orders/{id}/ship</c>.</summary>
public sealed record ShipOrderRequest(string? TrackingNumber);

/// <summary>Ships a confirmed order.</summary>
public sealed record ShipOrderCommand(string OrderId, string? TrackingNumber, IfMatch? IfMatch, ApiRequestContext Request) : ICommand<OrderVersionResponse>;

/// <summary>The tracking number is 1-64 characters.</summary>
public sealed class ShipOrderValidator : AbstractValidator<ShipOrderCommand>
{
    public ShipOrderValidator() => RuleFor(c => c.TrackingNumber).NotEmpty().MaximumLength(OrderRules.MaxTrackingNumberLength);
}

/// <summary>Appends <c>OrderShipped</c>.</summary>
public sealed class ShipOrderHandler(AggregateWriter<Order> writer) : ICommandHandler<ShipOrderCommand, OrderVersionResponse>
{
    public async ValueTask<OrderVersionResponse> Handle(ShipOrderCommand command, CancellationToken cancellationToken) =>
        OrderVersionResponse.Of(await writer.ChangeAsync(command.OrderId, command.IfMatch, command.Request, order => order.Ship(command.TrackingNumber!), cancellationToken));
}

/// <summary><c>POST /api/orders/{id}/ship</c>.</summary>
public static class ShipOrderEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapPost("/{id}/ship", HandleAsync)
        .WithName("ShipOrder")
        .WithSummary("Ship a confirmed order")
        .ProducesWriteProblems()
        .ProducesBodyProblems();

    private static async Task<Ok<OrderVersionResponse>> HandleAsync(
        string id, ShipOrderRequest body, [FromHeader(Name = ETags.IfMatchHeader)] string? ifMatch,
        ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken) =>
        (await mediator.Send(new ShipOrderCommand(id, body.TrackingNumber, ETags.ParseIfMatch(ifMatch), request), cancellationToken)).AsOk(http);
}
