using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;

namespace OrdersEs.Api.Orders;

/// <summary>Body of <c>POST /api/orders/{id}/cancel</c>.</summary>
public sealed record CancelOrderRequest(string? Reason);

/// <summary>Cancels a placed or confirmed order.</summary>
public sealed record CancelOrderCommand(string OrderId, string? Reason, IfMatch? IfMatch, ApiRequestContext Request) : ICommand<OrderVersionResponse>;

/// <summary>The reason is 1-500 characters.</summary>
public sealed class CancelOrderValidator : AbstractValidator<CancelOrderCommand>
{
    public CancelOrderValidator() => RuleFor(c => c.Reason).NotEmpty().MaximumLength(OrderRules.MaxReasonLength);
}

/// <summary>Appends <c>OrderCancelled</c>.</summary>
public sealed class CancelOrderHandler(AggregateWriter<Order> writer) : ICommandHandler<CancelOrderCommand, OrderVersionResponse>
{
    public async ValueTask<OrderVersionResponse> Handle(CancelOrderCommand command, CancellationToken cancellationToken) =>
        OrderVersionResponse.Of(await writer.ChangeAsync(command.OrderId, command.IfMatch, command.Request, order => order.Cancel(command.Reason!), cancellationToken));
}

/// <summary><c>POST /api/orders/{id}/cancel</c>.</summary>
public static class CancelOrderEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapPost("/{id}/cancel", HandleAsync)
        .WithName("CancelOrder")
        .WithSummary("Cancel a placed or confirmed order")
        .ProducesWriteProblems()
        .ProducesBodyProblems();

    private static async Task<Ok<OrderVersionResponse>> HandleAsync(
        string id, CancelOrderRequest body, [FromHeader(Name = ETags.IfMatchHeader)] string? ifMatch,
        ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken) =>
        (await mediator.Send(new CancelOrderCommand(id, body.Reason, ETags.ParseIfMatch(ifMatch), request), cancellationToken)).AsOk(http);
}
