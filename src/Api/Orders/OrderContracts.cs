using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;

namespace OrdersEs.Api.Orders;

/// <summary>What every command answers: the order and the version the write left it at (also sent as <c>ETag</c>).</summary>
public sealed record OrderVersionResponse(string Id, int Version)
{
    internal static OrderVersionResponse Of(Order order) => new(order.Id, order.Version);

    /// <summary>The success answer of every command on an existing order: 200 with <c>{id, version}</c> and the <c>ETag</c>.</summary>
    internal Ok<OrderVersionResponse> AsOk(HttpContext http) => ETags.Ok(http, Version, this);
}

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
