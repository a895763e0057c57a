using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.ReadModels.Orders;

namespace OrdersEs.Api.Orders;

/// <summary>One line of an order as the queries show it.</summary>
public sealed record OrderLineResponse(string Sku, int Quantity, long UnitPrice, long Total);

/// <summary>An order as the read model holds it, or as it was at a point of its history (<see cref="Version"/>: the version it stopped at).</summary>
public sealed record OrderResponse(
    string Id, string CustomerId, string Currency, string Status, IReadOnlyList<OrderLineResponse> Lines,
    long Total, int Version, DateTimeOffset PlacedAt, DateTimeOffset UpdatedAt)
{
    internal static OrderResponse From(OrderView view) => new(
        view.Id, view.CustomerId, view.Currency, view.Status,
        view.Lines().Select(l => new OrderLineResponse(l.Sku, l.Quantity, l.UnitPrice, l.Total)).ToArray(),
        view.Total, view.Version, AsUtc(view.PlacedAt), AsUtc(view.UpdatedAt));

    /// <summary>The order rebuilt from its events: placed when its first event occurred, updated when the last replayed one did.</summary>
    internal static OrderResponse From(HistoricalAggregate<Order> past) => new(
        past.Aggregate.Id, past.Aggregate.CustomerId, past.Aggregate.Currency, past.Aggregate.Status.ToString(),
        past.Aggregate.Lines.Select(l => new OrderLineResponse(l.Sku, l.Quantity, l.UnitPrice, l.Total)).ToArray(),
        past.Aggregate.Total, past.Aggregate.Version, past.FirstOccurredAt.ToUniversalTime(), past.LastOccurredAt.ToUniversalTime());

    private static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}

/// <summary>
/// Reads one order of the caller's tenant: from the read model (with <see cref="ReadAt.MinVersion"/>, first waiting,
/// bounded, for it to reach that version), or with <see cref="ReadAt.Point"/> as it was then, rebuilt from its events.
/// </summary>
public sealed record GetOrderQuery(string OrderId, ReadAt At, ApiRequestContext Request) : IQuery<OrderResponse?>;

/// <summary>Serves <c>orders_view</c> (no tracking, always filtered by tenant), or the order's history.</summary>
public sealed class GetOrderHandler(EventStoreDatabase readModel, ProjectionMonitor projections, AggregateHistory<Order> history)
    : IQueryHandler<GetOrderQuery, OrderResponse?>
{
    public async ValueTask<OrderResponse?> Handle(GetOrderQuery query, CancellationToken cancellationToken)
    {
        if (query.At.Point is { } point) return await history.ReadAsync(query.OrderId, point, query.Request, OrderResponse.From, cancellationToken);
        var view = await projections.ReadAtLeastAsync(query.At.MinVersion, v => v.Version, ct => FindAsync(query, ct), cancellationToken);
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
        .WithSummary("Read an order, now or as it was")
        .WithDescription("Served from the read model, with the version as ETag. ?minVersion=N waits up to 5 s for the read model to reach version N (read your own write); after that it answers with what it has. ?atVersion=N or ?asOf=<RFC 3339 time> answer the order as it was then, rebuilt from its events, in the same body, whose version (and ETag) is the version it stopped at; 404 for a point before the order existed. At most one of the three.")
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Results<Ok<OrderResponse>, ProblemHttpResult>> HandleAsync(
        string id, [AsParameters] ReadAtParameters at, ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken)
    {
        var readAt = at.Parse();
        var order = await mediator.Send(new GetOrderQuery(id, readAt, request), cancellationToken);
        if (order is null) return TypedResults.Problem(ApiProblems.AggregateNotFound(http, AggregateNames.Of<Order>(), id));
        return readAt.Ok(http, order.Version, order);
    }
}
