using System.Security.Cryptography;
using System.Text.Json;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;
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

/// <summary>
/// Appends <c>OrderPlaced</c>. An <c>Idempotency-Key</c> is claimed first, and its answer (kept 24 hours) is written
/// in the same transaction as the event, so a crash can never leave an order whose key a retry would place again.
/// </summary>
public sealed class PlaceOrderHandler(AggregateWriter<Order> orders, IdempotencyStore idempotency, TimeProvider timeProvider)
    : ICommandHandler<PlaceOrderCommand, PlaceOrderResult>
{
    public async ValueTask<PlaceOrderResult> Handle(PlaceOrderCommand command, CancellationToken cancellationToken)
    {
        var id = "ord_" + Guid.CreateVersion7(timeProvider.GetUtcNow()).ToString("N");
        var order = Order.Place(id, command.CustomerId!, command.Currency!,
            command.Lines!.Select(l => new OrderLine(l.Sku!, l.Quantity, l.UnitPrice)).ToArray());
        var result = new PlaceOrderResult(new OrderVersionResponse(order.Id, order.Version), $"/api/orders/{order.Id}", ETags.For(order.Version));
        var context = command.Request.ToEventContext();
        if (command.IdempotencyKey is not { } key)
        {
            await orders.SaveAsync(order, context, cancellationToken);
            return result;
        }

        var tenant = command.Request.TenantId;
        string token;
        switch (await idempotency.ClaimAsync(tenant, key, command.RequestHash, cancellationToken))
        {
            case IdempotencyClaim.Completed completed:
                return Replay(completed.Response);
            case IdempotencyClaim.BodyMismatch:
                throw new IdempotencyKeyReusedException(key);
            case IdempotencyClaim.Acquired acquired:
                token = acquired.Token;
                break;
            default:
                throw new IdempotencyInProgressException(key);
        }
        var answer = new IdempotentResponse(StatusCodes.Status201Created,
            JsonSerializer.Serialize(result.Order, JsonSerializerOptions.Web), result.Location, result.ETag);
        var completion = idempotency.Completion(tenant, key, token, answer);
        try
        {
            await orders.SaveAsync(order, context with { Participant = completion }, cancellationToken);
        }
        catch
        {
            await idempotency.ReleaseAsync(tenant, key, token, CancellationToken.None);
            throw;
        }
        if (!completion.Written) await idempotency.CompleteAsync(completion, CancellationToken.None);
        return result;
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
