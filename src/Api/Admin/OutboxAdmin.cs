using Microsoft.AspNetCore.Http.HttpResults;
using OrdersEs.Api.Http;
using OrdersEs.Infrastructure.Outbox;

namespace OrdersEs.Api.Admin;

/// <summary>The outbox as operators see it: how many messages wait, are being sent, or died, and the dead letters.</summary>
public sealed record OutboxResponse(long Pending, long InFlight, long DeadLettered, IReadOnlyList<OutboxDeadLetter> DeadLetters);

/// <summary><c>GET /admin/outbox</c> and <c>POST /admin/outbox/dead-letters/{id}/retry</c>.</summary>
public static class OutboxAdmin
{
    /// <summary>How many dead letters the overview lists (the counts are exact).</summary>
    public const int DeadLetterLimit = 100;

    public static void Map(RouteGroupBuilder admin)
    {
        admin.MapGet("/outbox", GetAsync)
            .WithName("GetOutbox")
            .WithSummary("Pending, in-flight and dead-lettered counts, and the dead letters")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapPost("/outbox/dead-letters/{id:long}/retry", RetryAsync)
            .WithName("RetryDeadLetter")
            .WithSummary("Put a dead letter back for delivery")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<Ok<OutboxResponse>> GetAsync(IOutboxMonitor outbox, CancellationToken cancellationToken)
    {
        var counts = await outbox.GetCountsAsync(cancellationToken);
        var deadLetters = await outbox.GetDeadLettersAsync(DeadLetterLimit, cancellationToken);
        return TypedResults.Ok(new OutboxResponse(counts.Pending, counts.InFlight, counts.DeadLettered, deadLetters));
    }

    private static async Task<Results<Ok<OutboxCounts>, ProblemHttpResult>> RetryAsync(
        long id, IOutboxMonitor outbox, HttpContext http, CancellationToken cancellationToken)
    {
        if (!await outbox.RetryDeadLetterAsync(id, cancellationToken))
            return TypedResults.Problem(ApiProblems.Create(http, ApiProblems.NotFound, $"No dead letter has id {id}."));
        return TypedResults.Ok(await outbox.GetCountsAsync(cancellationToken));
    }
}
