using System.Security.Cryptography;
using System.Text.Json;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Idempotency;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace OrdersEs.Api.Orders;

/// <summary>Body of <c>POST /api/orders</c>.</summary>
public sealed record PlaceOrderRequest(string? CustomerId, string? Currency, IReadOnlyList<OrderLineRequest>? Lines);

/// <summary>Places a new order under a server-chosen id; with an idempotency key, a repeat replays the first answer.</summary>
public sealed record PlaceOrderCommand(
    string? CustomerId, string? Currency, IReadOnlyList<OrderLineRequest>? Lines,
    ApiRequestContext Request, string? IdempotencyKey, string RequestHash) : ICommand<PlaceOrderResult>;

/// <summary>The created order, where it lives and its entity tag (first answer or replay).</summary>
public sealed record PlaceOrderResult(OrderVersionResponse Order, string Location, string ETag);

/// <summary>The contract's limits of a new order.</summary>
public sealed class PlaceOrderValidator : AbstractValidator<PlaceOrderCommand>
{
    public const int MaxIdempotencyKeyLength = 200;

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
        RuleFor(c => c.IdempotencyKey).Length(1, MaxIdempotencyKeyLength)
            .Must(key => PlainText.IsPlain(key)).WithMessage($"Idempotency-Key {PlainText.Rule}")
            .When(c => c.IdempotencyKey is not null)
            .OverridePropertyName(PlaceOrderEndpoint.IdempotencyKeyHeader);
    }
}

/// <summary>Appends <c>OrderPlaced</c>; an <c>Idempotency-Key</c> is claimed first and its answer stored for 24 hours.</summary>
public sealed class PlaceOrderHandler(EventSourcedRepository<Order> orders, IdempotencyStore idempotency, TimeProvider timeProvider)
    : ICommandHandler<PlaceOrderCommand, PlaceOrderResult>
{
    public async ValueTask<PlaceOrderResult> Handle(PlaceOrderCommand command, CancellationToken cancellationToken)
    {
        if (command.IdempotencyKey is not { } key) return await PlaceAsync(command, cancellationToken);

        var tenant = command.Request.TenantId;
        switch (await idempotency.ClaimAsync(tenant, key, command.RequestHash, cancellationToken))
        {
            case IdempotencyClaim.Completed completed:
                return Replay(completed.Response);
            case IdempotencyClaim.BodyMismatch:
                throw new IdempotencyKeyReusedException(key);
            case IdempotencyClaim.StillRunning:
                throw new IdempotencyInProgressException(key);
        }
        PlaceOrderResult result;
        try
        {
            result = await PlaceAsync(command, cancellationToken);
        }
        catch
        {
            await idempotency.ReleaseAsync(tenant, key, CancellationToken.None);
            throw;
        }
        var body = JsonSerializer.Serialize(result.Order, JsonSerializerOptions.Web);
        await idempotency.CompleteAsync(tenant, key,
            new IdempotentResponse(StatusCodes.Status201Created, body, result.Location, result.ETag), CancellationToken.None);
        return result;
    }

    private async ValueTask<PlaceOrderResult> PlaceAsync(PlaceOrderCommand command, CancellationToken cancellationToken)
    {
        var id = "ord_" + Guid.CreateVersion7(timeProvider.GetUtcNow()).ToString("N");
        var order = Order.Place(id, command.CustomerId!, command.Currency!,
            command.Lines!.Select(l => new OrderLine(l.Sku!, l.Quantity, l.UnitPrice)).ToArray());
        await orders.SaveAsync(order, command.Request.ToEventContext(), cancellationToken);
        return new PlaceOrderResult(new OrderVersionResponse(order.Id, order.Version), $"/api/orders/{order.Id}", ETags.For(order.Version));
    }

    private static PlaceOrderResult Replay(IdempotentResponse stored) => new(
        JsonSerializer.Deserialize<OrderVersionResponse>(stored.Body, JsonSerializerOptions.Web)!,
        stored.Location ?? "", stored.ETag ?? "");
}

/// <summary><c>POST /api/orders</c>.</summary>
public static class PlaceOrderEndpoint
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

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
        [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey,
        ApiRequestContext request,
        IMediator mediator,
        IOptions<JsonOptions> json,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        var hash = Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(body, json.Value.SerializerOptions)));
        var result = await mediator.Send(
            new PlaceOrderCommand(body.CustomerId, body.Currency, body.Lines, request, idempotencyKey, hash), cancellationToken);
        http.Response.Headers.ETag = result.ETag;
        return TypedResults.Created(result.Location, result.Order);
    }
}
