using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Invoices;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.ReadModels.Invoices;

namespace OrdersEs.Api.Invoices;

/// <summary>
/// One invoice as the read model holds it, or as it was at a point of its history (<see cref="Version"/>: the version
/// it stopped at); <see cref="Status"/> is <c>Open</c> or <c>Closed</c>.
/// </summary>
public sealed record InvoiceResponse(string Id, string Name, string Status, int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    internal static InvoiceResponse From(InvoiceView view) =>
        new(view.Id, view.Name, view.Status, view.Version, AsUtc(view.CreatedAt), AsUtc(view.UpdatedAt));

    /// <summary>The invoice rebuilt from its events: created when its first event occurred, updated when the last replayed one did.</summary>
    internal static InvoiceResponse From(HistoricalAggregate<Invoice> past) =>
        new(past.Aggregate.Id, past.Aggregate.Name, past.Aggregate.Status.ToString(), past.Aggregate.Version,
            past.FirstOccurredAt.ToUniversalTime(), past.LastOccurredAt.ToUniversalTime());

    private static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}

/// <summary>
/// Reads one invoice of the caller's tenant: from the read model (with <see cref="ReadAt.MinVersion"/>, first waiting,
/// bounded, for it to reach that version), or with <see cref="ReadAt.Point"/> as it was then, rebuilt from its events.
/// </summary>
public sealed record GetInvoiceQuery(string InvoiceId, ReadAt At, ApiRequestContext Request) : IQuery<InvoiceResponse?>;

/// <summary>Serves <c>invoices_view</c> (no tracking, always filtered by tenant), or the invoice's history.</summary>
public sealed class GetInvoiceHandler(EventStoreDatabase readModel, ProjectionMonitor projections, AggregateHistory<Invoice> history)
    : IQueryHandler<GetInvoiceQuery, InvoiceResponse?>
{
    public async ValueTask<InvoiceResponse?> Handle(GetInvoiceQuery query, CancellationToken cancellationToken)
    {
        if (query.At.Point is { } point) return await history.ReadAsync(query.InvoiceId, point, query.Request, InvoiceResponse.From, cancellationToken);
        var view = await projections.ReadAtLeastAsync(query.At.MinVersion, v => v.Version, ct => FindAsync(query, ct), cancellationToken);
        return view is null ? null : InvoiceResponse.From(view);
    }

    private async Task<InvoiceView?> FindAsync(GetInvoiceQuery query, CancellationToken cancellationToken)
    {
        var tenant = query.Request.TenantId;
        await using var db = await readModel.CreateContextAsync<InvoicesViewDbContext>(cancellationToken);
        return await db.Invoices.AsNoTracking()
            .Where(r => r.Id == query.InvoiceId && r.TenantId == tenant)
            .FirstOrDefaultAsync(cancellationToken);
    }
}

/// <summary><c>GET /api/invoices/{id}</c>.</summary>
public static class GetInvoiceEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapGet("/{id}", HandleAsync)
        .WithName("GetInvoice")
        .WithSummary("Read one invoice, now or as it was")
        .WithDescription("Served from the read model, with the version as ETag. ?minVersion=N waits up to 5 s for the read model to reach version N (read your own write); after that it answers with what it has. ?atVersion=N or ?asOf=<RFC 3339 time> answer the invoice as it was then, rebuilt from its events, in the same body, whose version (and ETag) is the version it stopped at; 404 for a point before the invoice existed. At most one of the three.")
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Results<Ok<InvoiceResponse>, ProblemHttpResult>> HandleAsync(
        string id, [AsParameters] ReadAtParameters at, ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken)
    {
        var readAt = at.Parse();
        var found = await mediator.Send(new GetInvoiceQuery(id, readAt, request), cancellationToken);
        if (found is null) return TypedResults.Problem(ApiProblems.AggregateNotFound(http, AggregateNames.Of<Invoice>(), id));
        return readAt.Ok(http, found.Version, found);
    }
}
