using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Invoices;

namespace OrdersEs.Api.Invoices;

/// <summary>The invoice's stored events in sequence order, straight from the event store; null when unknown or another tenant's.</summary>
public sealed record GetInvoiceEventsQuery(string InvoiceId, ApiRequestContext Request) : IQuery<IReadOnlyList<StoredEventResponse>?>;

/// <summary>Reads the stream with <see cref="AggregateEvents"/>.</summary>
public sealed class GetInvoiceEventsHandler(AggregateEvents events) : IQueryHandler<GetInvoiceEventsQuery, IReadOnlyList<StoredEventResponse>?>
{
    public ValueTask<IReadOnlyList<StoredEventResponse>?> Handle(GetInvoiceEventsQuery query, CancellationToken cancellationToken) =>
        events.ReadAsync<Invoice>(query.InvoiceId, query.Request, cancellationToken);
}

/// <summary><c>GET /api/invoices/{id}/events</c>.</summary>
public static class GetInvoiceEventsEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapGet("/{id}/events", HandleAsync)
        .WithName("GetInvoiceEvents")
        .WithSummary("Read the stored events of one invoice")
        .WithDescription("The invoice's event envelopes in sequence order, from the event store (always current).")
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Results<Ok<IReadOnlyList<StoredEventResponse>>, ProblemHttpResult>> HandleAsync(
        string id, ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken)
    {
        var events = await mediator.Send(new GetInvoiceEventsQuery(id, request), cancellationToken);
        return events is null ? TypedResults.Problem(ApiProblems.AggregateNotFound(http, AggregateNames.Of<Invoice>(), id)) : TypedResults.Ok(events);
    }
}
