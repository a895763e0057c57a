using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;

namespace OrdersEs.Api.Orders;

/// <summary>Removes the line of one SKU from a placed order (never its last line).</summary>
public sealed record RemoveLineCommand(string OrderId, string Sku, IfMatch? IfMatch, ApiRequestContext Request) : ICommand<OrderVersionResponse>;

/// <summary>The SKU in the path follows the SKU rules.</summary>
public sealed class RemoveLineValidator : AbstractValidator<RemoveLineCommand>
{
    public RemoveLineValidator() => RuleFor(c => c.Sku).Matches(OrderRules.SkuPattern()).WithMessage(OrderLineValidator.SkuMessage);
}

/// <summary>Appends <c>OrderLineRemoved</c>.</summary>
public sealed class RemoveLineHandler(AggregateWriter<Order> writer) : ICommandHandler<RemoveLineCommand, OrderVersionResponse>
{
    public async ValueTask<OrderVersionResponse> Handle(RemoveLineCommand command, CancellationToken cancellationToken) =>
        OrderVersionResponse.Of(await writer.ChangeAsync(command.OrderId, command.IfMatch, command.Request, order => order.RemoveLine(command.Sku), cancellationToken));
}

/// <summary><c>DELETE /api/orders/{id}/lines/{sku}</c>.</summary>
public static class RemoveLineEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapDelete("/{id}/lines/{sku}", HandleAsync)
        .WithName("RemoveOrderLine")
        .WithSummary("Remove a line from a placed order")
        .ProducesWriteProblems();

    private static async Task<Ok<OrderVersionResponse>> HandleAsync(
        string id, string sku, [FromHeader(Name = ETags.IfMatchHeader)] string? ifMatch,
        ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken) =>
        (await mediator.Send(new RemoveLineCommand(id, sku, ETags.ParseIfMatch(ifMatch), request), cancellationToken)).AsOk(http);
}
