using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Invoices;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace OrdersEs.Api.Invoices;

/// <summary>Body of <c>POST /api/invoices</c>.</summary>
public sealed record CreateInvoiceRequest(string? Name);

/// <summary>Creates a new invoice under a server-chosen id; with an idempotency key, a repeat replays the first answer.</summary>
public sealed record CreateInvoiceCommand(string? Name, ApiRequestContext Request, string? IdempotencyKey, string RequestHash)
    : ICommand<CreatedAnswer<InvoiceVersionResponse>>;

/// <summary>The contract's limits of a new invoice and of the <c>Idempotency-Key</c>.</summary>
public sealed class CreateInvoiceValidator : AbstractValidator<CreateInvoiceCommand>
{
    public CreateInvoiceValidator()
    {
        RuleFor(c => c.Name).ValidInvoiceName();
        RuleFor(c => c.IdempotencyKey).ValidIdempotencyKey().When(c => c.IdempotencyKey is not null);
    }
}

/// <summary>Appends <c>InvoiceCreated</c>; with an <c>Idempotency-Key</c>, once (see <see cref="AggregateWriter{T}.CreateAsync"/>).</summary>
public sealed class CreateInvoiceHandler(AggregateWriter<Invoice> writer, TimeProvider timeProvider)
    : ICommandHandler<CreateInvoiceCommand, CreatedAnswer<InvoiceVersionResponse>>
{
    public ValueTask<CreatedAnswer<InvoiceVersionResponse>> Handle(CreateInvoiceCommand command, CancellationToken cancellationToken)
    {
        var id = "inv_" + Guid.CreateVersion7(timeProvider.GetUtcNow()).ToString("N");
        var created = Invoice.Create(id, command.Name!);
        var answer = new CreatedAnswer<InvoiceVersionResponse>(InvoiceVersionResponse.Of(created), $"/api/invoices/{created.Id}", ETags.For(created.Version));
        return writer.CreateAsync(created, answer, command.Request, command.IdempotencyKey, command.RequestHash, cancellationToken);
    }
}

/// <summary><c>POST /api/invoices</c>.</summary>
public static class CreateInvoiceEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapPost("/", HandleAsync)
        .WithName("CreateInvoice")
        .WithSummary("Create a new invoice")
        .WithDescription("Creates an open invoice with its name (1-200 characters). Answers 201 with Location and ETag. An Idempotency-Key makes a retry return the first answer instead of creating a second one; the same key with another body is a 422.")
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status409Conflict)
        .ProducesBodyProblems()
        .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Created<InvoiceVersionResponse>> HandleAsync(
        CreateInvoiceRequest body,
        [FromHeader(Name = IdempotencyKeys.Header)] string? idempotencyKey,
        ApiRequestContext request,
        IMediator mediator,
        IOptions<JsonOptions> json,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        var hash = IdempotencyKeys.Hash(body, json.Value.SerializerOptions);
        var answer = await mediator.Send(new CreateInvoiceCommand(body.Name, request, idempotencyKey, hash), cancellationToken);
        return answer.ToResult(http);
    }
}
