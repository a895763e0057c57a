using Microsoft.AspNetCore.Http.HttpResults;
using OrdersEs.Api.Http;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Projections;

namespace OrdersEs.Api.Admin;

/// <summary>
/// The outbox as operators see it: exact counts (<see cref="Parked"/>: messages held back by a dead letter of their
/// aggregate), the dead letters with what each holds back, and the dead letters skipped so far.
/// </summary>
public sealed record OutboxResponse(
    long Pending, long InFlight, long DeadLettered, long Parked, IReadOnlyList<OutboxDeadLetter> DeadLetters, IReadOnlyList<OutboxSkippedMessage> Skipped);

/// <summary>Body of <c>POST /admin/outbox/dead-letters/{id}/skip</c>: why the message is dropped (kept with it).</summary>
public sealed record SkipDeadLetterRequest(string? Reason);

/// <summary>
/// <c>GET /admin/outbox</c>, <c>POST /admin/outbox/dead-letters/{id}/retry</c> and <c>POST /admin/outbox/dead-letters/{id}/skip</c>.
/// </summary>
public static class OutboxAdmin
{
    /// <summary>How many dead letters, and how many skipped messages, the overview lists (the counts are exact).</summary>
    public const int DeadLetterLimit = 100;

    /// <summary>Longest reason kept with a skipped message.</summary>
    public const int MaxReasonLength = 500;

    public static void Map(RouteGroupBuilder admin)
    {
        admin.MapGet("/outbox", GetAsync)
            .WithName("GetOutbox")
            .WithSummary("Pending, in-flight, dead-lettered and parked counts, the dead letters and the skipped messages")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/outbox/dead-letters/{id:long}/retry", RetryAsync)
            .WithName("RetryDeadLetter")
            .WithSummary("Put a dead letter back for delivery; the messages it parked follow it in sequence order")
            .WithDescription("409 dead-letter-skipped when it was skipped, 409 dead-letter-not-first while an earlier dead letter of its " +
                "aggregate waits; 404 when no dead letter has the id (also when another call retried it already).")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/outbox/dead-letters/{id:long}/skip", SkipAsync)
            .WithName("SkipDeadLetter")
            .WithSummary("Drop a dead letter for good, with a reason, so the messages it parked go out")
            .WithDescription("The skip is recorded with its reason and time and listed under GET /admin/outbox. " +
                "409 dead-letter-skipped when it was skipped already; 404 when no dead letter has the id.")
            .Accepts<SkipDeadLetterRequest>("application/json")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<Ok<OutboxResponse>> GetAsync(IOutboxMonitor outbox, CancellationToken cancellationToken)
    {
        var counts = await outbox.GetCountsAsync(cancellationToken);
        var deadLetters = await outbox.GetDeadLettersAsync(DeadLetterLimit, cancellationToken);
        var skipped = await outbox.GetSkippedAsync(DeadLetterLimit, cancellationToken);
        return TypedResults.Ok(new OutboxResponse(counts.Pending, counts.InFlight, counts.DeadLettered, counts.Parked, deadLetters, skipped));
    }

    private static async Task<Results<Ok<OutboxCounts>, ProblemHttpResult>> RetryAsync(
        long id, IOutboxMonitor outbox, EventStoreSignal signal, HttpContext http, CancellationToken cancellationToken)
    {
        var outcome = await outbox.RetryDeadLetterAsync(id, cancellationToken);
        if (Refusal(outcome, id, http) is { } refusal) return refusal;
        signal.Notify(); // this instance's dispatcher claims it now rather than at its next poll
        return TypedResults.Ok(await outbox.GetCountsAsync(cancellationToken));
    }

    private static async Task<Results<Ok<OutboxSkippedMessage>, ProblemHttpResult>> SkipAsync(
        long id, SkipDeadLetterRequest? request, IOutboxMonitor outbox, EventStoreSignal signal, HttpContext http, CancellationToken cancellationToken)
    {
        if (ReasonError(request?.Reason) is { } error)
            return TypedResults.Problem(ApiProblems.CreateValidation(http, new Dictionary<string, string[]> { ["reason"] = [error] }));
        var outcome = await outbox.SkipDeadLetterAsync(id, request!.Reason!.Trim(), cancellationToken);
        if (Refusal(outcome, id, http) is { } refusal) return refusal;
        signal.Notify();
        return TypedResults.Ok(outcome.Skipped!);
    }

    private static ProblemHttpResult? Refusal(DeadLetterOutcome outcome, long id, HttpContext http) => outcome.Result switch
    {
        DeadLetterResult.Done => null,
        DeadLetterResult.AlreadySkipped => TypedResults.Problem(ApiProblems.Create(http, ApiProblems.DeadLetterSkipped,
            $"Dead letter {id} was skipped at {outcome.Skipped!.SkippedAt:O}: {outcome.Skipped.Reason}")),
        DeadLetterResult.EarlierDeadLetter => TypedResults.Problem(ApiProblems.Create(http, ApiProblems.DeadLetterNotFirst,
            $"Dead letter {outcome.EarlierDeadLetterId} of the same aggregate comes first: retry or skip it before {id}.")),
        _ => TypedResults.Problem(ApiProblems.Create(http, ApiProblems.NotFound, $"No dead letter has id {id}.")),
    };

    // Kept in a text column and shown in logs and JSON: no control characters and no unpaired surrogates.
    private static string? ReasonError(string? reason)
    {
        if (string.IsNullOrWhiteSpace(reason)) return "A reason is required: say why the message is dropped.";
        if (reason.Length > MaxReasonLength) return $"The reason must be at most {MaxReasonLength} characters.";
        return ProjectionFailure.Clean(reason, MaxReasonLength) != reason
            ? "The reason must not contain control characters or unpaired surrogates."
            : null;
    }
}
