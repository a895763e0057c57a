using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;

namespace OrdersEs.Api.Orders;

/// <summary>Adds a line to a placed order (a SKU already on the order is a 409).</summary>
public sealed record AddLineCommand(string OrderId, string? Sku, int Quantity, long UnitPrice, IfMatch? IfMatch, ApiRequestContext Request)
    : ICommand<OrderVersionResponse>;

/// <summary>The contract's limits of the new line.</summary>
public sealed class AddLineValidator : AbstractValidator<AddLineCommand>
{
    public AddLineValidator()
    {
        RuleFor(c => c.Sku).NotEmpty().Matches(OrderRules.SkuPattern()).WithMessage(OrderLineValidator.SkuMessage);
        RuleFor(c => c.Quantity).InclusiveBetween(1, OrderRules.MaxQuantity);
        RuleFor(c => c.UnitPrice).InclusiveBetween(0, OrderRules.MaxUnitPrice);
    }
}

/// <summary>Appends <c>OrderLineAdded</c>.</summary>
public sealed class AddLineHandler(AggregateWriter<Order> writer) : ICommandHandler<AddLineCommand, OrderVersionResponse>
{
    public async ValueTask<OrderVersionResponse> Handle(AddLineCommand command, CancellationToken cancellationToken) =>
        OrderVersionResponse.Of(await writer.ChangeAsync(command.OrderId, command.IfMatch, command.Request,
            order => order.AddLine(new OrderLine(command.Sku!, command.Quantity, command.UnitPrice)), cancellationToken));
}

/// <summary><c>POST /api/orders/{id}/lines</c>.</summary>
public static class AddLineEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapPost("/{id}/lines", HandleAsync)
        .WithName("AddOrderLine")
        .WithSummary("Add a line to a placed order")
        .ProducesWriteProblems()
        .ProducesBodyProblems();

    private static async Task<Ok<OrderVersionResponse>> HandleAsync(
        string id, OrderLineRequest body, [FromHeader(Name = ETags.IfMatchHeader)] string? ifMatch,
        ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken) =>
        (await mediator.Send(new AddLineCommand(id, body.Sku, body.Quantity, body.UnitPrice, ETags.ParseIfMatch(ifMatch), request), cancellationToken)).AsOk(http);
}
