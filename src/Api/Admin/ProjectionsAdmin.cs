using Microsoft.AspNetCore.Http.HttpResults;
using OrdersEs.Api.Http;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Projections;

namespace OrdersEs.Api.Admin;

/// <summary>
/// A projection as operators see it; <see cref="Lag"/> counts the events after the checkpoint up to the store's head (at most
/// <see cref="ProjectionsAdmin.LagCap"/>), <see cref="OldestUnappliedAt"/> dates the first of them.
/// <see cref="Failing"/> is the event it is retrying (shown by the instance that runs it); <see cref="Skipped"/> its parked events.
/// </summary>
public sealed record ProjectionResponse(
    string Name, string Checkpoint, long CheckpointPosition, bool Active, long Lag, bool LagCapped, DateTimeOffset? OldestUnappliedAt, bool Rebuilding, string? LastError, DateTimeOffset? LastProgressAt,
    FailingEventResponse? Failing, IReadOnlyList<SkippedEventResponse> Skipped);

/// <summary>The event a projection cannot apply; the event fields are null when the failure came before an event was read.</summary>
public sealed record FailingEventResponse(
    string? EventId, long? Position, string? Checkpoint, string? EventType, string? AggregateId,
    string Error, int Attempts, DateTimeOffset FailingSince, DateTimeOffset LastAttemptAt);

/// <summary>An event an operator parked for the projection: when, why, and the error it failed with.</summary>
public sealed record SkippedEventResponse(
    string EventId, long Position, string Checkpoint, string EventType, string AggregateId, string? Error, string Reason, DateTimeOffset SkippedAt);

/// <summary>Body of <c>POST /admin/projections/{name}/skip/{eventId}</c>: why the event is parked (kept with it).</summary>
public sealed record SkipEventRequest(string? Reason);

/// <summary>
/// <c>GET /admin/projections</c>, <c>POST /admin/projections/{name}/rebuild</c> and
/// <c>POST /admin/projections/{name}/skip/{eventId}</c>.
/// </summary>
public static class ProjectionsAdmin
{
    /// <summary>Counting stops here: beyond it the exact number does not change what an operator does.</summary>
    public const int LagCap = 10_000;

    /// <summary>How many parked events the view lists per projection, most recent first.</summary>
    public const int SkippedLimit = 100;

    /// <summary>Longest reason kept with a parked event.</summary>
    public const int MaxReasonLength = 500;

    /// <summary>How long a park request waits for this instance's runner to move past the event before answering.</summary>
    private static readonly TimeSpan MoveOnWait = TimeSpan.FromSeconds(5);

    public static void Map(RouteGroupBuilder admin)
    {
        admin.MapGet("/projections", ListAsync)
            .WithName("ListProjections")
            .WithSummary("Projections with their checkpoint, lag, the event each is failing on and the events parked for it")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/projections/{name}/rebuild", RebuildAsync)
            .WithName("RebuildProjection")
            .WithSummary("Reset a projection and rebuild its read model from the first event")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/projections/{name}/skip/{eventId}", SkipAsync)
            .WithName("SkipProjectionEvent")
            .WithSummary("Park the event a projection is failing on, with a reason, so it moves on without applying it")
            .WithDescription("Only the event the projection is held at can be parked (else 409); parking it again changes nothing (200). " +
                "The event stays in the store and is never applied by this projection, also not by a rebuild.")
            .Accepts<SkipEventRequest>("application/json")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<Ok<IReadOnlyList<ProjectionResponse>>> ListAsync(
        ProjectionMonitor monitor, IEventStore store, CancellationToken cancellationToken)
    {
        var answer = new List<ProjectionResponse>();
        foreach (var status in monitor.Statuses)
            answer.Add(await DescribeAsync((await monitor.CurrentAsync(status.Name, cancellationToken))!, monitor, store, cancellationToken));
        return TypedResults.Ok<IReadOnlyList<ProjectionResponse>>(answer);
    }

    private static async Task<Results<Ok<ProjectionResponse>, ProblemHttpResult>> RebuildAsync(
        string name, ProjectionMonitor monitor, IEventStore store, HttpContext http, CancellationToken cancellationToken)
    {
        if (!await monitor.RebuildAsync(name, cancellationToken))
            return TypedResults.Problem(ApiProblems.Create(http, ApiProblems.NotFound, $"No projection is named '{name}'."));
        return TypedResults.Ok(await DescribeAsync((await monitor.CurrentAsync(name, cancellationToken))!, monitor, store, cancellationToken));
    }

    private static async Task<Results<Ok<ProjectionResponse>, ProblemHttpResult>> SkipAsync(
        string name, string eventId, SkipEventRequest? request, ProjectionMonitor monitor, IEventStore store, HttpContext http,
        CancellationToken cancellationToken)
    {
        if (monitor.Find(name) is null)
            return TypedResults.Problem(ApiProblems.Create(http, ApiProblems.NotFound, $"No projection is named '{name}'."));
        if (ReasonError(request?.Reason) is { } error)
            return TypedResults.Problem(ApiProblems.CreateValidation(http, new Dictionary<string, string[]> { ["reason"] = [error] }));

        var outcome = (await monitor.SkipAsync(name, eventId, request!.Reason!.Trim(), cancellationToken))!;
        if (outcome.Result == SkipResult.NotHeld)
            return TypedResults.Problem(ApiProblems.Create(http, ApiProblems.ProjectionNotHeld, outcome.Refusal));

        // Where this instance runs the projection, answer once it has moved past the event (or after a short wait).
        if (outcome.Skipped is { } skipped && monitor.Find(name) is { Active: true })
        {
            await monitor.WaitUntilAsync(
                _ => Task.FromResult(monitor.Find(name) is not { Active: true } current || current.Checkpoint >= skipped.Checkpoint),
                MoveOnWait, cancellationToken);
        }
        return TypedResults.Ok(await DescribeAsync((await monitor.CurrentAsync(name, cancellationToken))!, monitor, store, cancellationToken));
    }

    // Kept in a text column and shown in logs and JSON: no control characters and no unpaired surrogates.
    private static string? ReasonError(string? reason)
    {
        if (string.IsNullOrWhiteSpace(reason)) return "A reason is required: say why the event is parked.";
        if (reason.Length > MaxReasonLength) return $"The reason must be at most {MaxReasonLength} characters.";
        return ProjectionFailure.Clean(reason, MaxReasonLength) != reason
            ? "The reason must not contain control characters or unpaired surrogates."
            : null;
    }

    private static async Task<ProjectionResponse> DescribeAsync(
        ProjectionStatus status, ProjectionMonitor monitor, IEventStore store, CancellationToken cancellationToken)
    {
        var behind = await store.LagAsync(status.Checkpoint, LagCap + 1, cancellationToken);
        var skipped = await monitor.SkippedAsync(status.Name, SkippedLimit, cancellationToken);
        return new ProjectionResponse(status.Name, status.Checkpoint.ToString(), status.Checkpoint.Position, status.Active,
            Math.Min(behind.Events, LagCap), behind.Events > LagCap, behind.OldestAt, status.Rebuilding, status.LastError, status.LastProgressAt,
            status.Failure is { } f
                ? new FailingEventResponse(f.EventId, f.Checkpoint?.Position, f.Checkpoint?.ToString(), f.EventType, f.AggregateId,
                    f.Error, f.Attempts, f.FailingSince, f.LastAttemptAt)
                : null,
            skipped.Select(s => new SkippedEventResponse(
                s.EventId, s.Checkpoint.Position, s.Checkpoint.ToString(), s.EventType, s.AggregateId, s.Error, s.Reason, s.SkippedAt)).ToArray());
    }
}
