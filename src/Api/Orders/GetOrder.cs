using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.ReadModels.Orders;

namespace OrdersEs.Api.Orders;

/// <summary>One line of an order as the queries show it.</summary>
public sealed record OrderLineResponse(string Sku, int Quantity, long UnitPrice, long Total);

/// <summary>An order as the read model holds it.</summary>
public sealed record OrderResponse(
    string Id, string CustomerId, string Currency, string Status, IReadOnlyList<OrderLineResponse> Lines,
    long Total, int Version, DateTimeOffset PlacedAt, DateTimeOffset UpdatedAt)
{
    internal static OrderResponse From(OrderView view) => new(
        view.Id, view.CustomerId, view.Currency, view.Status,
        view.Lines().Select(l => new OrderLineResponse(l.Sku, l.Quantity, l.UnitPrice, l.Total)).ToArray(),
        view.Total, view.Version, AsUtc(view.PlacedAt), AsUtc(view.UpdatedAt));

    private static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}

/// <summary>Reads one order of the caller's tenant; with <see cref="MinVersion"/>, first waits (bounded) for the read model to reach it.</summary>
public sealed record GetOrderQuery(string OrderId, int? MinVersion, ApiRequestContext Request) : IQuery<OrderResponse?>;

/// <summary><c>minVersion</c> is a version (at least 1).</summary>
public sealed class GetOrderValidator : AbstractValidator<GetOrderQuery>
{
    public GetOrderValidator() => RuleFor(q => q.MinVersion).GreaterThanOrEqualTo(1).When(q => q.MinVersion is not null);
}

/// <summary>Serves <c>orders_view</c> (no tracking, always filtered by tenant).</summary>
public sealed class GetOrderHandler(EventStoreDatabase readModel, ProjectionMonitor projections) : IQueryHandler<GetOrderQuery, OrderResponse?>
{
    public async ValueTask<OrderResponse?> Handle(GetOrderQuery query, CancellationToken cancellationToken)
    {
        var view = await projections.ReadAtLeastAsync(query.MinVersion, v => v.Version, ct => FindAsync(query, ct), cancellationToken);
        return view is null ? null : OrderResponse.From(view);
    }

    private async Task<OrderView?> FindAsync(GetOrderQuery query, CancellationToken cancellationToken)
    {
        var tenant = query.Request.TenantId;
        await using var db = await readModel.CreateContextAsync<OrdersViewDbContext>(cancellationToken);
        return await db.Orders.AsNoTracking()
            .Where(o => o.Id == query.OrderId && o.TenantId == tenant)
            .FirstOrDefaultAsync(cancellationToken);
    }
}

/// <summary><c>GET /api/orders/{id}</c>.</summary>
public static class GetOrderEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapGet("/{id}", HandleAsync)
        .WithName("GetOrder")
        .WithSummary("Read an order")
        .WithDescription("Served from the read model, with the version as ETag. ?minVersion=N waits up to 5 s for the read model to reach version N (read your own write); after that it answers with what it has.")
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Results<Ok<OrderResponse>, ProblemHttpResult>> HandleAsync(
        string id, int? minVersion, ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken)
    {
        var order = await mediator.Send(new GetOrderQuery(id, minVersion, request), cancellationToken);
        if (order is null) return TypedResults.Problem(ApiProblems.AggregateNotFound(http, AggregateNames.Of<Order>(), id));
        http.Response.Headers.ETag = ETags.For(order.Version);
        return TypedResults.Ok(order);
    }
}
