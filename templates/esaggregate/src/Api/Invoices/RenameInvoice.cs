using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Invoices;

namespace OrdersEs.Api.Invoices;

/// <summary>Body of <c>POST /api/invoices/{id}/rename</c>.</summary>
public sealed record RenameInvoiceRequest(string? Name);

/// <summary>Renames an open invoice (a closed one is a 409).</summary>
public sealed record RenameInvoiceCommand(string InvoiceId, string? Name, IfMatch? IfMatch, ApiRequestContext Request) : ICommand<InvoiceVersionResponse>;

/// <summary>The new name follows the name rule.</summary>
public sealed class RenameInvoiceValidator : AbstractValidator<RenameInvoiceCommand>
{
    public RenameInvoiceValidator() => RuleFor(c => c.Name).ValidInvoiceName();
}

/// <summary>Appends <c>InvoiceRenamed</c>.</summary>
public sealed class RenameInvoiceHandler(AggregateWriter<Invoice> writer) : ICommandHandler<RenameInvoiceCommand, InvoiceVersionResponse>
{
    public async ValueTask<InvoiceVersionResponse> Handle(RenameInvoiceCommand command, CancellationToken cancellationToken) =>
        InvoiceVersionResponse.Of(await writer.ChangeAsync(command.InvoiceId, command.IfMatch, command.Request,
            aggregate => aggregate.Rename(command.Name!), cancellationToken));
}

/// <summary><c>POST /api/invoices/{id}/rename</c>.</summary>
public static class RenameInvoiceEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapPost("/{id}/rename", HandleAsync)
        .WithName("RenameInvoice")
        .WithSummary("Rename an open invoice")
        .ProducesWriteProblems()
        .ProducesBodyProblems();

    private static async Task<Ok<InvoiceVersionResponse>> HandleAsync(
        string id, RenameInvoiceRequest body, [FromHeader(Name = ETags.IfMatchHeader)] string? ifMatch,
        ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken) =>
        (await mediator.Send(new RenameInvoiceCommand(id, body.Name, ETags.ParseIfMatch(ifMatch), request), cancellationToken)).AsOk(http);
}
