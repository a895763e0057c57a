using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>Durable (or in-memory) checkpoints of projections, advanced with a compare-and-set.</summary>
public interface IProjectionCheckpointStore
{
    Task<GlobalCheckpoint> LoadAsync(string projection, CancellationToken cancellationToken);

    /// <summary>Moves the checkpoint from <paramref name="expected"/> to <paramref name="next"/>; false when it was elsewhere.</summary>
    Task<bool> TryAdvanceAsync(string projection, GlobalCheckpoint expected, GlobalCheckpoint next, CancellationToken cancellationToken);

    Task ResetAsync(string projection, CancellationToken cancellationToken);
}

/// <summary>Checkpoints in process memory: a restart replays from the first event.</summary>
public sealed class InMemoryCheckpointStore : IProjectionCheckpointStore
{
    private readonly ConcurrentDictionary<string, GlobalCheckpoint> _checkpoints = new();

    public Task<GlobalCheckpoint> LoadAsync(string projection, CancellationToken cancellationToken) =>
        Task.FromResult(_checkpoints.GetValueOrDefault(projection));

    public Task<bool> TryAdvanceAsync(string projection, GlobalCheckpoint expected, GlobalCheckpoint next, CancellationToken cancellationToken) =>
        Task.FromResult(expected == GlobalCheckpoint.Start
            ? _checkpoints.TryAdd(projection, next) || _checkpoints.TryUpdate(projection, next, GlobalCheckpoint.Start)
            : _checkpoints.TryUpdate(projection, next, expected));

    public Task ResetAsync(string projection, CancellationToken cancellationToken)
    {
        _checkpoints[projection] = GlobalCheckpoint.Start;
        return Task.CompletedTask;
    }
}

/// <summary>Checkpoints in <c>orderses_projection_checkpoints</c>, usable inside a read model's own transaction.</summary>
public sealed class EfCoreCheckpointStore(EventStoreDatabase database, TimeProvider timeProvider) : IProjectionCheckpointStore
{
    public async Task<GlobalCheckpoint> LoadAsync(string projection, CancellationToken cancellationToken)
    {
        await using var db = await database.CreateContextAsync(cancellationToken);
        return await LoadAsync(db, projection, cancellationToken);
    }

    public async Task<bool> TryAdvanceAsync(string projection, GlobalCheckpoint expected, GlobalCheckpoint next, CancellationToken cancellationToken)
    {
        await using var db = await database.CreateContextAsync(cancellationToken);
        return await TryAdvanceAsync(db, projection, expected, next, cancellationToken);
    }

    public async Task ResetAsync(string projection, CancellationToken cancellationToken)
    {
        await using var db = await database.CreateContextAsync(cancellationToken);
        await ResetAsync(db, projection, cancellationToken);
    }

    // A projection without a row is at the start.
    private static async Task<GlobalCheckpoint> LoadAsync(EventStoreDbContext db, string projection, CancellationToken cancellationToken)
    {
        var row = await db.ProjectionCheckpoints.SingleOrDefaultAsync(c => c.Name == projection, cancellationToken);
        return row is null ? GlobalCheckpoint.Start : new GlobalCheckpoint(row.CommitId, row.Position);
    }

    /// <summary>
    /// The compare-and-set on <paramref name="db"/> (any context on this database: the kernel's, or a read model's),
    /// inside whatever transaction it has open.
    /// </summary>
    public async Task<bool> TryAdvanceAsync(DbContext db, string projection, GlobalCheckpoint expected, GlobalCheckpoint next, CancellationToken cancellationToken)
    {
        var now = database.TimestampParameter(timeProvider.GetUtcNow());
        if (expected == GlobalCheckpoint.Start)
        {
            // The first advance may come before any load created the row.
            return await db.Database.ExecuteSqlAsync($"""
                INSERT INTO orderses_projection_checkpoints (name, commit_id, position, updated_at)
                VALUES ({projection}, {next.CommitId}, {next.Position}, {now})
                ON CONFLICT (name) DO UPDATE SET commit_id = EXCLUDED.commit_id, position = EXCLUDED.position, updated_at = EXCLUDED.updated_at
                WHERE orderses_projection_checkpoints.commit_id = 0 AND orderses_projection_checkpoints.position = 0
                """, cancellationToken) == 1;
        }
        var updated = await db.Database.ExecuteSqlAsync($"""
            UPDATE orderses_projection_checkpoints
            SET commit_id = {next.CommitId}, position = {next.Position}, updated_at = {now}
            WHERE name = {projection} AND commit_id = {expected.CommitId} AND position = {expected.Position}
            """, cancellationToken);
        return updated == 1;
    }

    /// <summary>Puts the checkpoint back before the first event, on <paramref name="db"/> inside its transaction.</summary>
    public async Task ResetAsync(DbContext db, string projection, CancellationToken cancellationToken)
    {
        var now = database.TimestampParameter(timeProvider.GetUtcNow());
        await db.Database.ExecuteSqlAsync($"""
            UPDATE orderses_projection_checkpoints SET commit_id = 0, position = 0, updated_at = {now} WHERE name = {projection}
            """, cancellationToken);
    }
}
