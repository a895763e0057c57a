using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Invoices;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.ReadModels.Invoices;

namespace OrdersEs.Api.Invoices;

/// <summary>One invoice as the read model holds it; <see cref="Status"/> is <c>Open</c> or <c>Closed</c>.</summary>
public sealed record InvoiceResponse(string Id, string Name, string Status, int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    internal static InvoiceResponse From(InvoiceView view) =>
        new(view.Id, view.Name, view.Status, view.Version, AsUtc(view.CreatedAt), AsUtc(view.UpdatedAt));

    private static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}

/// <summary>Reads one invoice of the caller's tenant; with <see cref="MinVersion"/>, first waits (bounded) for the read model to reach it.</summary>
public sealed record GetInvoiceQuery(string InvoiceId, int? MinVersion, ApiRequestContext Request) : IQuery<InvoiceResponse?>;

/// <summary><c>minVersion</c> is a version (at least 1).</summary>
public sealed class GetInvoiceValidator : AbstractValidator<GetInvoiceQuery>
{
    public GetInvoiceValidator() => RuleFor(q => q.MinVersion).GreaterThanOrEqualTo(1).When(q => q.MinVersion is not null);
}

/// <summary>Serves <c>invoices_view</c> (no tracking, always filtered by tenant).</summary>
public sealed class GetInvoiceHandler(EventStoreDatabase readModel, ProjectionMonitor projections) : IQueryHandler<GetInvoiceQuery, InvoiceResponse?>
{
    public async ValueTask<InvoiceResponse?> Handle(GetInvoiceQuery query, CancellationToken cancellationToken)
    {
        var view = await projections.ReadAtLeastAsync(query.MinVersion, v => v.Version, ct => FindAsync(query, ct), cancellationToken);
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
        .WithSummary("Read one invoice")
        .WithDescription("Served from the read model, with the version as ETag. ?minVersion=N waits up to 5 s for the read model to reach version N (read your own write); after that it answers with what it has.")
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Results<Ok<InvoiceResponse>, ProblemHttpResult>> HandleAsync(
        string id, int? minVersion, ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken)
    {
        var found = await mediator.Send(new GetInvoiceQuery(id, minVersion, request), cancellationToken);
        if (found is null) return TypedResults.Problem(ApiProblems.AggregateNotFound(http, AggregateNames.Of<Invoice>(), id));
        http.Response.Headers.ETag = ETags.For(found.Version);
        return TypedResults.Ok(found);
    }
}
