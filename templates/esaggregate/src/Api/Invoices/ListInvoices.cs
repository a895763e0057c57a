using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Invoices;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.ReadModels.Invoices;

namespace OrdersEs.Api.Invoices;

/// <summary>One page of invoices, newest first.</summary>
public sealed record InvoicePageResponse(IReadOnlyList<InvoiceResponse> Items, int Page, int PageSize, int TotalCount);

/// <summary>Lists the caller's tenant's invoices, optionally by status.</summary>
public sealed record ListInvoicesQuery(string? Status, int Page, int PageSize, ApiRequestContext Request) : IQuery<InvoicePageResponse>
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;
}

/// <summary>A known status, <c>page</c> from 1, <c>pageSize</c> 1-100, and no page past what an offset can reach.</summary>
public sealed class ListInvoicesValidator : AbstractValidator<ListInvoicesQuery>
{
    public ListInvoicesValidator()
    {
        RuleFor(q => q.Status).Must(s => ListInvoicesHandler.ParseStatus(s) is not null)
            .WithMessage($"status must be one of {string.Join(", ", Enum.GetNames<InvoiceStatus>())}.")
            .When(q => q.Status is not null);
        RuleFor(q => q.Page).GreaterThanOrEqualTo(1);
        RuleFor(q => q.PageSize).InclusiveBetween(1, ListInvoicesQuery.MaxPageSize);
        RuleFor(q => q.Page).Must((q, page) => (page - 1L) * q.PageSize <= int.MaxValue)
            .WithMessage(q => $"page x pageSize is past the last page there can be (page at most {int.MaxValue / q.PageSize + 1} for pageSize {q.PageSize}).")
            .When(q => q.Page >= 1 && q.PageSize is >= 1 and <= ListInvoicesQuery.MaxPageSize);
    }
}

/// <summary>Serves <c>invoices_view</c> (no tracking, always filtered by tenant).</summary>
public sealed class ListInvoicesHandler(EventStoreDatabase readModel) : IQueryHandler<ListInvoicesQuery, InvoicePageResponse>
{
    public async ValueTask<InvoicePageResponse> Handle(ListInvoicesQuery query, CancellationToken cancellationToken)
    {
        var tenant = query.Request.TenantId;
        await using var db = await readModel.CreateContextAsync<InvoicesViewDbContext>(cancellationToken);
        var rows = db.Invoices.AsNoTracking().Where(r => r.TenantId == tenant);
        if (ParseStatus(query.Status) is { } status) rows = rows.Where(r => r.Status == status);

        var total = await rows.CountAsync(cancellationToken);
        var page = await rows.OrderByDescending(r => r.CreatedAt).ThenBy(r => r.Id)
            .Skip((query.Page - 1) * query.PageSize).Take(query.PageSize)
            .ToListAsync(cancellationToken);
        return new InvoicePageResponse(page.Select(InvoiceResponse.From).ToArray(), query.Page, query.PageSize, total);
    }

    /// <summary>The stored status name for a filter value (case-insensitive), or null when unknown.</summary>
    internal static string? ParseStatus(string? value) =>
        Enum.GetNames<InvoiceStatus>().FirstOrDefault(name => string.Equals(name, value, StringComparison.OrdinalIgnoreCase));
}

/// <summary><c>GET /api/invoices</c>.</summary>
public static class ListInvoicesEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapGet("/", HandleAsync)
        .WithName("ListInvoices")
        .WithSummary("List invoices")
        .WithDescription("Newest first, from the read model. status: Open or Closed; page from 1; pageSize 1-100 (default 20).")
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Ok<InvoicePageResponse>> HandleAsync(
        string? status, int? page, int? pageSize, ApiRequestContext request, IMediator mediator, CancellationToken cancellationToken) =>
        TypedResults.Ok(await mediator.Send(
            new ListInvoicesQuery(status, page ?? 1, pageSize ?? ListInvoicesQuery.DefaultPageSize, request), cancellationToken));
}
