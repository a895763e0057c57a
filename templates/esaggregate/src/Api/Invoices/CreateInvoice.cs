using System.Security.Cryptography;
using System.Text.Json;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Invoices;
using OrdersEs.Infrastructure.Idempotency;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace OrdersEs.Api.Invoices;

/// <summary>Body of <c>POST /api/invoices</c>.</summary>
public sealed record CreateInvoiceRequest(string? Name);

/// <summary>Creates a new invoice under a server-chosen id; with an idempotency key, a repeat replays the first answer.</summary>
public sealed record CreateInvoiceCommand(string? Name, ApiRequestContext Request, string? IdempotencyKey, string RequestHash)
    : ICommand<CreateInvoiceResult>;

/// <summary>The created invoice, where it lives and its entity tag (first answer or replay).</summary>
public sealed record CreateInvoiceResult(InvoiceVersionResponse Created, string Location, string ETag);

/// <summary>The contract's limits of a new invoice and of the <c>Idempotency-Key</c>.</summary>
public sealed class CreateInvoiceValidator : AbstractValidator<CreateInvoiceCommand>
{
    public const int MaxIdempotencyKeyLength = 200;

    public CreateInvoiceValidator()
    {
        RuleFor(c => c.Name).ValidInvoiceName();
        RuleFor(c => c.IdempotencyKey).Length(1, MaxIdempotencyKeyLength)
            .Must(key => PlainText.IsPlain(key)).WithMessage($"Idempotency-Key {PlainText.Rule}")
            .When(c => c.IdempotencyKey is not null)
            .OverridePropertyName(CreateInvoiceEndpoint.IdempotencyKeyHeader);
    }
}

/// <summary>
/// Appends <c>InvoiceCreated</c>. An <c>Idempotency-Key</c> is claimed first, and its answer (kept 24 hours) is written
/// in the same transaction as the event, so a crash can never leave a created invoice whose key a retry would create again.
/// </summary>
public sealed class CreateInvoiceHandler(AggregateWriter<Invoice> writer, IdempotencyStore idempotency, TimeProvider timeProvider)
    : ICommandHandler<CreateInvoiceCommand, CreateInvoiceResult>
{
    public async ValueTask<CreateInvoiceResult> Handle(CreateInvoiceCommand command, CancellationToken cancellationToken)
    {
        var id = "inv_" + Guid.CreateVersion7(timeProvider.GetUtcNow()).ToString("N");
        var created = Invoice.Create(id, command.Name!);
        var result = new CreateInvoiceResult(InvoiceVersionResponse.Of(created), $"/api/invoices/{created.Id}", ETags.For(created.Version));
        var context = command.Request.ToEventContext();
        if (command.IdempotencyKey is not { } key)
        {
            await writer.SaveAsync(created, context, cancellationToken);
            return result;
        }

        var tenant = command.Request.TenantId;
        string token;
        switch (await idempotency.ClaimAsync(tenant, key, command.RequestHash, cancellationToken))
        {
            case IdempotencyClaim.Completed completed:
                return Replay(completed.Response);
            case IdempotencyClaim.BodyMismatch:
                throw new IdempotencyKeyReusedException(key);
            case IdempotencyClaim.Acquired acquired:
                token = acquired.Token;
                break;
            default:
                throw new IdempotencyInProgressException(key);
        }
        var answer = new IdempotentResponse(StatusCodes.Status201Created,
            JsonSerializer.Serialize(result.Created, JsonSerializerOptions.Web), result.Location, result.ETag);
        var completion = idempotency.Completion(tenant, key, token, answer);
        try
        {
            await writer.SaveAsync(created, context with { Participant = completion }, cancellationToken);
        }
        catch
        {
            await idempotency.ReleaseAsync(tenant, key, token, CancellationToken.None);
            throw;
        }
        if (!completion.Written) await idempotency.CompleteAsync(completion, CancellationToken.None);
        return result;
    }

    private static CreateInvoiceResult Replay(IdempotentResponse stored) => new(
        JsonSerializer.Deserialize<InvoiceVersionResponse>(stored.Body, JsonSerializerOptions.Web)!,
        stored.Location ?? "", stored.ETag ?? "");
}

/// <summary><c>POST /api/invoices</c>.</summary>
public static class CreateInvoiceEndpoint
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

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
        [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey,
        ApiRequestContext request,
        IMediator mediator,
        IOptions<JsonOptions> json,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        var hash = Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(body, json.Value.SerializerOptions)));
        var result = await mediator.Send(new CreateInvoiceCommand(body.Name, request, idempotencyKey, hash), cancellationToken);
        http.Response.Headers.ETag = result.ETag;
        return TypedResults.Created(result.Location, result.Created);
    }
}
