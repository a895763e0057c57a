using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace OrdersEs.Api.Orders;

/// <summary>Body of <c>POST /api/orders</c>.</summary>
public sealed record PlaceOrderRequest(string? CustomerId, string? Currency, IReadOnlyList<OrderLineRequest>? Lines);

/// <summary>Places a new order under a server-chosen id; with an idempotency key, a repeat replays the first answer.</summary>
public sealed record PlaceOrderCommand(
    string? CustomerId, string? Currency, IReadOnlyList<OrderLineRequest>? Lines,
    ApiRequestContext Request, string? IdempotencyKey, string RequestHash) : ICommand<CreatedAnswer<OrderVersionResponse>>;

/// <summary>The contract's limits of a new order.</summary>
public sealed class PlaceOrderValidator : AbstractValidator<PlaceOrderCommand>
{
    public PlaceOrderValidator()
    {
        RuleFor(c => c.CustomerId).NotEmpty().MaximumLength(OrderRules.MaxIdLength);
        RuleFor(c => c.Currency).NotEmpty().Matches(OrderRules.CurrencyPattern()).WithMessage("currency must be three upper-case letters.");
        RuleFor(c => c.Lines).NotEmpty().WithMessage($"An order has 1-{OrderRules.MaxLines} lines.");
        When(c => c.Lines is { Count: > 0 }, () => RuleFor(c => c.Lines!)
            .Must(lines => lines.Count <= OrderRules.MaxLines).WithMessage($"An order has 1-{OrderRules.MaxLines} lines.")
            .Must(lines => lines.Where(l => l?.Sku is not null).Select(l => l.Sku).Distinct(StringComparer.Ordinal).Count() == lines.Count(l => l?.Sku is not null))
            .WithMessage("Each SKU may appear once per order.")
            .OverridePropertyName(nameof(PlaceOrderCommand.Lines)));
        RuleForEach(c => c.Lines).NotNull().SetValidator(new OrderLineValidator());
        RuleFor(c => c.IdempotencyKey).ValidIdempotencyKey().When(c => c.IdempotencyKey is not null);
    }
}

/// <summary>Appends <c>OrderPlaced</c>; with an <c>Idempotency-Key</c>, once (see <see cref="AggregateWriter{T}.CreateAsync"/>).</summary>
public sealed class PlaceOrderHandler(AggregateWriter<Order> orders, TimeProvider timeProvider)
    : ICommandHandler<PlaceOrderCommand, CreatedAnswer<OrderVersionResponse>>
{
    public ValueTask<CreatedAnswer<OrderVersionResponse>> Handle(PlaceOrderCommand command, CancellationToken cancellationToken)
    {
        var id = "ord_" + Guid.CreateVersion7(timeProvider.GetUtcNow()).ToString("N");
        var order = Order.Place(id, command.CustomerId!, command.Currency!,
            command.Lines!.Select(l => new OrderLine(l.Sku!, l.Quantity, l.UnitPrice)).ToArray());
        var answer = new CreatedAnswer<OrderVersionResponse>(OrderVersionResponse.Of(order), $"/api/orders/{order.Id}", ETags.For(order.Version));
        return orders.CreateAsync(order, answer, command.Request, command.IdempotencyKey, command.RequestHash, cancellationToken);
    }
}

/// <summary><c>POST /api/orders</c>.</summary>
public static class PlaceOrderEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapPost("/", HandleAsync)
        .WithName("PlaceOrder")
        .WithSummary("Place an order")
        .WithDescription("Creates an order with its lines. Answers 201 with Location and ETag. An Idempotency-Key makes a retry return the first answer instead of placing a second order; the same key with another body is a 422.")
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status409Conflict)
        .ProducesBodyProblems()
        .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Created<OrderVersionResponse>> HandleAsync(
        PlaceOrderRequest body,
        [FromHeader(Name = IdempotencyKeys.Header)] string? idempotencyKey,
        ApiRequestContext request,
        IMediator mediator,
        IOptions<JsonOptions> json,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        var hash = IdempotencyKeys.Hash(body, json.Value.SerializerOptions);
        var answer = await mediator.Send(
            new PlaceOrderCommand(body.CustomerId, body.Currency, body.Lines, request, idempotencyKey, hash), cancellationToken);
        return answer.ToResult(http);
    }
}
