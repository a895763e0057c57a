using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Api.Orders;

/// <summary>What every command answers: the order and the version the write left it at (also sent as <c>ETag</c>).</summary>
public sealed record OrderVersionResponse(string Id, int Version);

/// <summary>One order line on the wire; amounts in minor units.</summary>
public sealed record OrderLineRequest(string? Sku, int Quantity, long UnitPrice);

/// <summary>The contract's limits of one line.</summary>
public sealed class OrderLineValidator : AbstractValidator<OrderLineRequest>
{
    public static readonly string SkuMessage = $"sku must be 1-{OrderRules.MaxSkuLength} letters, digits, '-', '_' or '.'.";

    public OrderLineValidator()
    {
        RuleFor(l => l.Sku).NotEmpty().Matches(OrderRules.SkuPattern()).WithMessage(SkuMessage);
        RuleFor(l => l.Quantity).InclusiveBetween(1, OrderRules.MaxQuantity);
        RuleFor(l => l.UnitPrice).InclusiveBetween(0, OrderRules.MaxUnitPrice);
    }
}

/// <summary>
/// The write path shared by the commands on an existing order: load it, check the tenant and <c>If-Match</c>,
/// apply the change and append its events under optimistic concurrency.
/// </summary>
public sealed class OrderWriter(EventSourcedRepository<Order> orders, IEventStore store)
{
    public async ValueTask<OrderVersionResponse> ChangeAsync(
        string orderId, IfMatch? ifMatch, ApiRequestContext request, Action<Order> change, CancellationToken cancellationToken)
    {
        var order = orderId.Length <= OrderRules.MaxIdLength ? await orders.LoadAsync(orderId, cancellationToken) : null;
        if (order is null || !await BelongsToAsync(order, request.TenantId, cancellationToken))
            throw new OrderNotFoundException(orderId);
        if (ifMatch is not null && !ifMatch.Matches(order.Version))
            throw new PreconditionFailedException(ifMatch.Header, order.Version);
        change(order);
        await orders.SaveAsync(order, request.ToEventContext(), cancellationToken);
        return new OrderVersionResponse(order.Id, order.Version);
    }

    // Every event of a stream carries the tenant that placed the order; reading the last one is one indexed row.
    private async Task<bool> BelongsToAsync(Order order, string? tenantId, CancellationToken cancellationToken)
    {
        var last = await store.LoadAsync(order.Id, order.Version - 1, cancellationToken);
        return last.Count > 0 && string.Equals(last[^1].TenantId, tenantId, StringComparison.Ordinal);
    }
}

/// <summary>The success answer of every command on an existing order: 200 with <c>{id, version}</c> and the <c>ETag</c>.</summary>
internal static class OrderWriteResults
{
    public static Ok<OrderVersionResponse> Ok(HttpContext context, OrderVersionResponse order)
    {
        context.Response.Headers.ETag = ETags.For(order.Version);
        return TypedResults.Ok(order);
    }
}
