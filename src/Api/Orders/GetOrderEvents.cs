using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;

namespace OrdersEs.Api.Orders;

/// <summary>The order's stored events in sequence order, straight from the event store; null for an unknown order or another tenant's.</summary>
public sealed record GetOrderEventsQuery(string OrderId, ApiRequestContext Request) : IQuery<IReadOnlyList<StoredEventResponse>?>;

/// <summary>Reads the stream with <see cref="AggregateEvents"/>.</summary>
public sealed class GetOrderEventsHandler(AggregateEvents events) : IQueryHandler<GetOrderEventsQuery, IReadOnlyList<StoredEventResponse>?>
{
    public ValueTask<IReadOnlyList<StoredEventResponse>?> Handle(GetOrderEventsQuery query, CancellationToken cancellationToken) =>
        events.ReadAsync<Order>(query.OrderId, query.Request, cancellationToken);
}

/// <summary><c>GET /api/orders/{id}/events</c>.</summary>
public static class GetOrderEventsEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapGet("/{id}/events", HandleAsync)
        .WithName("GetOrderEvents")
        .WithSummary("Read an order's stored events")
        .WithDescription("The order's event envelopes in sequence order, from the event store (always current).")
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Results<Ok<IReadOnlyList<StoredEventResponse>>, ProblemHttpResult>> HandleAsync(
        string id, ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken)
    {
        var events = await mediator.Send(new GetOrderEventsQuery(id, request), cancellationToken);
        return events is null ? TypedResults.Problem(ApiProblems.AggregateNotFound(http, AggregateNames.Of<Order>(), id)) : TypedResults.Ok(events);
    }
}
