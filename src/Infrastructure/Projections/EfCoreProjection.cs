using Microsoft.EntityFrameworkCore;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>
/// A read model mapped by its own EF Core context <typeparamref name="TContext"/>, in the database that hosts the
/// read models: each batch's writes and the checkpoint commit in one transaction, so a crash or a retry can never
/// apply an event twice nor lose one. Derive and implement the two hooks.
/// </summary>
public abstract class EfCoreProjection<TContext>(EventStoreDatabase database, EfCoreCheckpointStore checkpoints) : IProjection
    where TContext : DbContext
{
    public abstract string Name { get; }

    /// <summary>Applies one event through <paramref name="db"/> (tracked changes are saved with the batch).</summary>
    protected abstract Task ApplyAsync(TContext db, StoredEventEnvelope envelope, CancellationToken cancellationToken);

    /// <summary>
    /// Called once per batch before <see cref="ApplyAsync(TContext, StoredEventEnvelope, CancellationToken)"/>:
    /// load (tracked) the rows the batch will touch in one query, so applying an event needs no round trip.
    /// </summary>
    protected virtual Task PrefetchAsync(TContext db, IReadOnlyList<StoredEventEnvelope> batch, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>Called once per batch after its events were applied, before the changes are saved.</summary>
    protected virtual void BeforeSave(TContext db)
    {
    }

    /// <summary>Deletes the read model's rows, for a rebuild.</summary>
    protected abstract Task ClearAsync(TContext db, CancellationToken cancellationToken);

    public Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken) => checkpoints.LoadAsync(Name, cancellationToken);

    public async Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken)
    {
        await using var db = await database.CreateContextAsync<TContext>(cancellationToken);
        // Read-model rows are loaded to be changed: track them (contexts default to no tracking). Changes are
        // detected once before saving, not on every lookup (DbSet.Local would otherwise rescan all tracked rows).
        db.ChangeTracker.QueryTrackingBehavior = QueryTrackingBehavior.TrackAll;
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await PrefetchAsync(db, batch, cancellationToken);
        foreach (var envelope in batch)
        {
            try
            {
                await ApplyAsync(db, envelope, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Nothing of the batch is kept: the transaction rolls back, the checkpoint stays at `from`.
                throw new ProjectionApplyException(Name, envelope, from, e);
            }
        }
        BeforeSave(db);
        db.ChangeTracker.DetectChanges();
        await db.SaveChangesAsync(cancellationToken);
        var reached = batch[^1].Checkpoint;
        if (!await checkpoints.TryAdvanceAsync(db, Name, from, reached, cancellationToken))
            throw new CheckpointMovedException(Name);
        await transaction.CommitAsync(cancellationToken);
        return reached;
    }

    public async Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken)
    {
        await using var db = await database.CreateContextAsync<TContext>(cancellationToken);
        if (!await checkpoints.TryAdvanceAsync(db, Name, from, parked.Checkpoint, cancellationToken))
            throw new CheckpointMovedException(Name);
        return parked.Checkpoint;
    }

    public async Task ResetAsync(CancellationToken cancellationToken)
    {
        await using var db = await database.CreateContextAsync<TContext>(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await ClearAsync(db, cancellationToken);
        await checkpoints.ResetAsync(db, Name, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }
}
