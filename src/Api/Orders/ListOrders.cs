using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.ReadModels.Orders;

namespace OrdersEs.Api.Orders;

/// <summary>One page of orders, newest first.</summary>
public sealed record OrderPageResponse(IReadOnlyList<OrderResponse> Items, int Page, int PageSize, int TotalCount);

/// <summary>Lists the caller's tenant's orders, optionally by status and customer.</summary>
public sealed record ListOrdersQuery(string? Status, string? CustomerId, int Page, int PageSize, ApiRequestContext Request) : IQuery<OrderPageResponse>
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;
}

/// <summary>A known status, a customer id of 1-64 characters, <c>page</c> from 1, <c>pageSize</c> 1-100.</summary>
public sealed class ListOrdersValidator : AbstractValidator<ListOrdersQuery>
{
    public ListOrdersValidator()
    {
        RuleFor(q => q.Status).Must(s => ListOrdersHandler.ParseStatus(s) is not null)
            .WithMessage($"status must be one of {string.Join(", ", Enum.GetNames<OrderStatus>())}.")
            .When(q => q.Status is not null);
        RuleFor(q => q.CustomerId).NotEmpty().MaximumLength(OrderRules.MaxIdLength).When(q => q.CustomerId is not null);
        RuleFor(q => q.Page).GreaterThanOrEqualTo(1);
        RuleFor(q => q.PageSize).InclusiveBetween(1, ListOrdersQuery.MaxPageSize);
        RuleFor(q => q.Page).Must((q, page) => (page - 1L) * q.PageSize <= int.MaxValue)
            .WithMessage(q => $"page x pageSize is past the last page there can be (page at most {int.MaxValue / q.PageSize + 1} for pageSize {q.PageSize}).")
            .When(q => q.Page >= 1 && q.PageSize is >= 1 and <= ListOrdersQuery.MaxPageSize);
    }
}

/// <summary>Serves <c>orders_view</c> (no tracking, always filtered by tenant).</summary>
public sealed class ListOrdersHandler(EventStoreDatabase readModel) : IQueryHandler<ListOrdersQuery, OrderPageResponse>
{
    public async ValueTask<OrderPageResponse> Handle(ListOrdersQuery query, CancellationToken cancellationToken)
    {
        var tenant = query.Request.TenantId;
        await using var db = await readModel.CreateContextAsync<OrdersViewDbContext>(cancellationToken);
        var orders = db.Orders.AsNoTracking().Where(o => o.TenantId == tenant);
        if (ParseStatus(query.Status) is { } status) orders = orders.Where(o => o.Status == status);
        if (query.CustomerId is { } customerId) orders = orders.Where(o => o.CustomerId == customerId);

        var total = await orders.CountAsync(cancellationToken);
        var page = await orders.OrderByDescending(o => o.PlacedAt).ThenBy(o => o.Id)
            .Skip((query.Page - 1) * query.PageSize).Take(query.PageSize)
            .ToListAsync(cancellationToken);
        return new OrderPageResponse(page.Select(OrderResponse.From).ToArray(), query.Page, query.PageSize, total);
    }

    /// <summary>The stored status name for a filter value (case-insensitive), or null when unknown.</summary>
    internal static string? ParseStatus(string? value) =>
        Enum.GetNames<OrderStatus>().FirstOrDefault(name => string.Equals(name, value, StringComparison.OrdinalIgnoreCase));
}

/// <summary><c>GET /api/orders</c>.</summary>
public static class ListOrdersEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapGet("/", HandleAsync)
        .WithName("ListOrders")
        .WithSummary("List orders")
        .WithDescription("Newest first, from the read model. status: Placed, Confirmed, Shipped or Cancelled; page from 1; pageSize 1-100 (default 20).")
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Ok<OrderPageResponse>> HandleAsync(
        string? status, string? customerId, int? page, int? pageSize, ApiRequestContext request, IMediator mediator, CancellationToken cancellationToken) =>
        TypedResults.Ok(await mediator.Send(
            new ListOrdersQuery(status, customerId, page ?? 1, pageSize ?? ListOrdersQuery.DefaultPageSize, request), cancellationToken));
}
