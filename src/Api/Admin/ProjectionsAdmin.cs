using Microsoft.AspNetCore.Http.HttpResults;
using OrdersEs.Api.Http;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Projections;

namespace OrdersEs.Api.Admin;

/// <summary>A projection as operators see it; <see cref="Lag"/> counts events after the checkpoint, up to <see cref="ProjectionsAdmin.LagCap"/>.</summary>
public sealed record ProjectionResponse(
    string Name, string Checkpoint, long CheckpointPosition, bool Active, long Lag, bool LagCapped, string? LastError, DateTimeOffset? LastProgressAt);

/// <summary><c>GET /admin/projections</c> and <c>POST /admin/projections/{name}/rebuild</c>.</summary>
public static class ProjectionsAdmin
{
    /// <summary>Counting stops here: beyond it the exact number does not change what an operator does.</summary>
    public const int LagCap = 10_000;

    public static void Map(RouteGroupBuilder admin)
    {
        admin.MapGet("/projections", ListAsync)
            .WithName("ListProjections")
            .WithSummary("Projections with their checkpoint and lag")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/projections/{name}/rebuild", RebuildAsync)
            .WithName("RebuildProjection")
            .WithSummary("Reset a projection and rebuild its read model from the first event")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<Ok<IReadOnlyList<ProjectionResponse>>> ListAsync(
        ProjectionMonitor monitor, IEventStore store, CancellationToken cancellationToken)
    {
        var answer = new List<ProjectionResponse>();
        foreach (var status in monitor.Statuses)
            answer.Add(await DescribeAsync((await monitor.CurrentAsync(status.Name, cancellationToken))!, store, cancellationToken));
        return TypedResults.Ok<IReadOnlyList<ProjectionResponse>>(answer);
    }

    private static async Task<Results<Ok<ProjectionResponse>, ProblemHttpResult>> RebuildAsync(
        string name, ProjectionMonitor monitor, IEventStore store, HttpContext http, CancellationToken cancellationToken)
    {
        if (!await monitor.RebuildAsync(name, cancellationToken))
            return TypedResults.Problem(ApiProblems.Create(http, ApiProblems.NotFound, $"No projection is named '{name}'."));
        return TypedResults.Ok(await DescribeAsync((await monitor.CurrentAsync(name, cancellationToken))!, store, cancellationToken));
    }

    private static async Task<ProjectionResponse> DescribeAsync(ProjectionStatus status, IEventStore store, CancellationToken cancellationToken)
    {
        var behind = await store.ReadAllAsync(status.Checkpoint, LagCap, cancellationToken);
        return new ProjectionResponse(status.Name, status.Checkpoint.ToString(), status.Checkpoint.Position, status.Active,
            behind.Count, behind.Count >= LagCap, status.LastError, status.LastProgressAt);
    }
}
