using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Invoices;

namespace OrdersEs.Api.Invoices;

/// <summary>Closes an open invoice (closing it again is a 409).</summary>
public sealed record CloseInvoiceCommand(string InvoiceId, IfMatch? IfMatch, ApiRequestContext Request) : ICommand<InvoiceVersionResponse>;

/// <summary>Appends <c>InvoiceClosed</c>.</summary>
public sealed class CloseInvoiceHandler(AggregateWriter<Invoice> writer) : ICommandHandler<CloseInvoiceCommand, InvoiceVersionResponse>
{
    public async ValueTask<InvoiceVersionResponse> Handle(CloseInvoiceCommand command, CancellationToken cancellationToken) =>
        InvoiceVersionResponse.Of(await writer.ChangeAsync(command.InvoiceId, command.IfMatch, command.Request, aggregate => aggregate.Close(), cancellationToken));
}

/// <summary><c>POST /api/invoices/{id}/close</c>.</summary>
public static class CloseInvoiceEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapPost("/{id}/close", HandleAsync)
        .WithName("CloseInvoice")
        .WithSummary("Close an open invoice")
        .ProducesWriteProblems();

    private static async Task<Ok<InvoiceVersionResponse>> HandleAsync(
        string id, [FromHeader(Name = ETags.IfMatchHeader)] string? ifMatch,
        ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken) =>
        (await mediator.Send(new CloseInvoiceCommand(id, ETags.ParseIfMatch(ifMatch), request), cancellationToken)).AsOk(http);
}
