using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrdersEs.Api.Http;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Projections;

namespace OrdersEs.Api.Admin;

/// <summary>
/// A projection as operators see it; <see cref="Lag"/> counts the events after the checkpoint up to the store's head (at most
/// <see cref="ProjectionsAdmin.LagCap"/>), <see cref="OldestUnappliedAt"/> dates the first of them.
/// <see cref="Failing"/> is the event it is retrying (shown by the instance that runs it); <see cref="Skipped"/> its parked events.
/// For a read model kept in generations, <see cref="Version"/> is this instance's version of it and <see cref="Generations"/>
/// the serving generation with any build under way (and retired ones not yet dropped), each with its progress.
/// </summary>
public sealed record ProjectionResponse(
    string Name, string Checkpoint, long CheckpointPosition, bool Active, long Lag, bool LagCapped, DateTimeOffset? OldestUnappliedAt, bool Rebuilding, string? LastError, DateTimeOffset? LastProgressAt,
    FailingEventResponse? Failing, IReadOnlyList<SkippedEventResponse> Skipped, int? Version, IReadOnlyList<GenerationResponse> Generations);

/// <summary>
/// One generation of a read model: <c>serving</c> (queries read its table), <c>building</c> (from the first event, beside it)
/// or <c>retired</c> (kept until <see cref="DropAfter"/>). <see cref="Lag"/> counts the events after its checkpoint (capped
/// like the projection's); <see cref="BuildingHere"/> tells that this instance runs the build, whose failure then shows.
/// </summary>
public sealed record GenerationResponse(
    int Generation, int Version, string State, string Table, string Reason, string? Checkpoint, long? CheckpointPosition, long? Lag, bool LagCapped,
    DateTimeOffset CreatedAt, DateTimeOffset? SwitchedAt, DateTimeOffset? RetiredAt, DateTimeOffset? DropAfter, bool BuildingHere, FailingEventResponse? Failing);

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
            .WithSummary("Rebuild a projection from the first event: a read model blue/green, into a new generation that takes over once caught up")
            .WithDescription("A read model keeps serving its current generation while the new one is built into its own table; queries switch to it " +
                "atomically once it is caught up (at most pyfly:eventsourcing:projections:switch-lag-events behind, or read to the head and at most a batch " +
                "behind while writes go on), and the old table is dropped after " +
                "retired-grace. Asking again starts the build over. Nothing is published to the broker.")
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
        ProjectionMonitor monitor, IEventStore store, IOptions<ReadModelBuildOptions> builds, CancellationToken cancellationToken)
    {
        var answer = new List<ProjectionResponse>();
        foreach (var status in monitor.Statuses)
            answer.Add(await DescribeAsync((await monitor.CurrentAsync(status.Name, cancellationToken))!, monitor, store, builds, cancellationToken));
        return TypedResults.Ok<IReadOnlyList<ProjectionResponse>>(answer);
    }

    private static async Task<Results<Ok<ProjectionResponse>, ProblemHttpResult>> RebuildAsync(
        string name, ProjectionMonitor monitor, IEventStore store, IOptions<ReadModelBuildOptions> builds, HttpContext http, CancellationToken cancellationToken)
    {
        if (!await monitor.RebuildAsync(name, cancellationToken))
            return TypedResults.Problem(ApiProblems.Create(http, ApiProblems.NotFound, $"No projection is named '{name}'."));
        return TypedResults.Ok(await DescribeAsync((await monitor.CurrentAsync(name, cancellationToken))!, monitor, store, builds, cancellationToken));
    }

    private static async Task<Results<Ok<ProjectionResponse>, ProblemHttpResult>> SkipAsync(
        string name, string eventId, SkipEventRequest? request, ProjectionMonitor monitor, IEventStore store, IOptions<ReadModelBuildOptions> builds, HttpContext http,
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
        return TypedResults.Ok(await DescribeAsync((await monitor.CurrentAsync(name, cancellationToken))!, monitor, store, builds, cancellationToken));
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
        ProjectionStatus status, ProjectionMonitor monitor, IEventStore store, IOptions<ReadModelBuildOptions> builds, CancellationToken cancellationToken)
    {
        var behind = await store.LagAsync(status.Checkpoint, LagCap + 1, cancellationToken);
        var skipped = await monitor.SkippedAsync(status.Name, SkippedLimit, cancellationToken);
        var generational = monitor.Projection(status.Name) as IGenerationalProjection;
        var generations = generational is { ReadModel: not null } && monitor.Builder is { } builder
            ? await builder.DescribeAsync(generational, cancellationToken)
            : [];
        var described = new List<GenerationResponse>();
        foreach (var g in generations)
        {
            // The serving generation's checkpoint is usually the projection's own: its lag is already counted.
            EventLag? lag = g.Checkpoint is not { } at ? null
                : at == status.Checkpoint ? behind
                : await store.LagAsync(at, LagCap + 1, cancellationToken);
            described.Add(new GenerationResponse(g.Generation.Generation, g.Generation.Version, g.Generation.State.ToString().ToLowerInvariant(),
                g.Generation.Table, g.Generation.Reason, g.Checkpoint?.ToString(), g.Checkpoint?.Position,
                lag is { } l ? Math.Min(l.Events, LagCap) : null, lag?.Events > LagCap,
                g.Generation.CreatedAt, g.Generation.SwitchedAt, g.Generation.RetiredAt, g.Generation.RetiredAt + builds.Value.RetiredGrace,
                g.BuildingHere, Failing(g.Failure)));
        }
        return new ProjectionResponse(status.Name, status.Checkpoint.ToString(), status.Checkpoint.Position, status.Active,
            Math.Min(behind.Events, LagCap), behind.Events > LagCap, behind.OldestAt, status.Rebuilding, status.LastError, status.LastProgressAt,
            Failing(status.Failure),
            skipped.Select(s => new SkippedEventResponse(
                s.EventId, s.Checkpoint.Position, s.Checkpoint.ToString(), s.EventType, s.AggregateId, s.Error, s.Reason, s.SkippedAt)).ToArray(),
            generational?.ReadModel?.Version, described);
    }

    private static FailingEventResponse? Failing(ProjectionFailure? failure) => failure is { } f
        ? new FailingEventResponse(f.EventId, f.Checkpoint?.Position, f.Checkpoint?.ToString(), f.EventType, f.AggregateId,
            f.Error, f.Attempts, f.FailingSince, f.LastAttemptAt)
        : null;
}
