using Microsoft.EntityFrameworkCore;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>
/// A read model mapped by its own EF Core context <typeparamref name="TContext"/>, in the database that hosts the
/// read models: each batch's writes and the checkpoint commit in one transaction, so a crash or a retry can never
/// apply an event twice nor lose one. Derive and implement the hooks.
/// <para>
/// When the database hosts a read model named like the projection (its <see cref="IReadModelSchema"/>), the read model is
/// kept in generations (<see cref="ReadModelGenerations"/>): the projection writes the serving generation's table (its
/// context mapped there) with that generation's checkpoint, and <see cref="ForGeneration"/> builds another one beside it
/// for a blue/green rebuild. Without one (a projection that writes elsewhere), it keeps one checkpoint under its name and
/// a rebuild clears it (<see cref="ClearAsync"/>) and replays in place.
/// </para>
/// </summary>
public abstract class EfCoreProjection<TContext> : IProjection, IGenerationalProjection
    where TContext : DbContext
{
    /// <summary>How often a projection waits for the serving generation to be of its version (another deployment's build switching).</summary>
    private static readonly TimeSpan VersionRecheck = TimeSpan.FromSeconds(1);

    private readonly EventStoreDatabase _database;
    private readonly EfCoreCheckpointStore _checkpoints;
    private readonly ReadModelGenerations _generations;
    // The serving generation as last read; re-read when a checkpoint no longer moves (a switch retired it).
    private volatile ReadModelGeneration? _serving;

    protected EfCoreProjection(EventStoreDatabase database, EfCoreCheckpointStore checkpoints)
    {
        _database = database;
        _checkpoints = checkpoints;
        _generations = new ReadModelGenerations(database, TimeProvider.System);
    }

    public abstract string Name { get; }

    /// <summary>The read model this projection keeps in generations, or null when the database hosts none of its name.</summary>
    public IReadModelSchema? ReadModel => _database.ReadModel(Name);

    /// <summary>Instances of different read-model versions hold different leases: one of each version runs it, and only the one of the serving version writes.</summary>
    public string LeaseName => ReadModel is { } model ? $"{Name}#v{model.Version}" : Name;

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

    /// <summary>
    /// Deletes what the projection wrote, for a rebuild in place: only for a projection without a read model of its name
    /// (a read model is rebuilt blue/green into a new generation, never cleared).
    /// </summary>
    protected virtual Task ClearAsync(TContext db, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken)
    {
        if (ReadModel is null) return await _checkpoints.LoadAsync(Name, cancellationToken);
        var serving = await _generations.ServingAsync(Name, cancellationToken);
        _serving = serving;
        return await _checkpoints.LoadAsync(serving.CheckpointName, cancellationToken);
    }

    public async Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken)
    {
        var target = await ServingTargetAsync(cancellationToken);
        try
        {
            return await ApplyToAsync(target, batch, from, cancellationToken);
        }
        catch (Exception e) when (e is not (CheckpointMovedException or OperationCanceledException) && target.Generation is not null)
        {
            // A switch retired the generation (and may have dropped its table) while this runner still wrote it: not a failure.
            if (await NoLongerServesAsync(target.Generation, cancellationToken)) throw Moved(target);
            throw;
        }
    }

    public async Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken) =>
        await SkipOnAsync(await ServingTargetAsync(cancellationToken), parked, from, cancellationToken);

    /// <summary>For a read model: starts a blue/green build (see <see cref="StartBuildAsync"/>). Otherwise clears it and its checkpoint.</summary>
    public async Task ResetAsync(CancellationToken cancellationToken)
    {
        if (ReadModel is not null)
        {
            await StartBuildAsync("rebuild asked for", cancellationToken);
            return;
        }
        await using var db = await _database.CreateContextAsync<TContext>(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await ClearAsync(db, cancellationToken);
        await _checkpoints.ResetAsync(db, Name, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public int? Version => ReadModel?.Version;

    public async Task<ReadModelGeneration> StartBuildAsync(string reason, CancellationToken cancellationToken) =>
        await _generations.StartBuildAsync(ReadModel ?? throw NoReadModel(), reason, cancellationToken);

    public Task<IReadOnlyList<ReadModelGeneration>> GenerationsAsync(CancellationToken cancellationToken) =>
        ReadModel is null ? Task.FromResult<IReadOnlyList<ReadModelGeneration>>([]) : _generations.ListAsync(Name, cancellationToken);

    public Task<bool> SwitchAsync(ReadModelGeneration build, CancellationToken cancellationToken) =>
        _generations.SwitchAsync(Name, build.Generation, cancellationToken);

    public Task<int> DropRetiredAsync(TimeSpan grace, CancellationToken cancellationToken) =>
        _generations.DropRetiredAsync(Name, grace, cancellationToken);

    public Task<GlobalCheckpoint> CheckpointOfAsync(ReadModelGeneration generation, CancellationToken cancellationToken) =>
        _checkpoints.LoadAsync(generation.CheckpointName, cancellationToken);

    /// <summary>The projection that builds <paramref name="generation"/> into its own table, under its own checkpoint and lease.</summary>
    public IProjection ForGeneration(ReadModelGeneration generation) => new GenerationProjection(this, new Target(generation.CheckpointName, generation));

    private InvalidOperationException NoReadModel() =>
        new($"Projection '{Name}' keeps no read model of its name: it has no generations to build.");

    // Where a batch goes: the checkpoint it advances and the generation whose table it writes (none: the context's own tables).
    private sealed record Target(string CheckpointName, ReadModelGeneration? Generation);

    /// <summary>
    /// The serving generation, when it was built by this projection's version; while another deployment's version serves
    /// (this one's build not yet switched, or a newer one switched), waits: this code must not write that table.
    /// </summary>
    private async Task<Target> ServingTargetAsync(CancellationToken cancellationToken)
    {
        if (ReadModel is not { } model) return new Target(Name, null);
        while (true)
        {
            var serving = _serving ?? await _generations.ServingAsync(Name, cancellationToken);
            _serving = serving;
            if (serving.Version == model.Version) return new Target(serving.CheckpointName, serving);
            await Task.Delay(VersionRecheck, cancellationToken);
            _serving = null;
        }
    }

    private async Task<GlobalCheckpoint> ApplyToAsync(Target target, IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken)
    {
        await using var db = await CreateContextAsync(target, cancellationToken);
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
        if (!await _checkpoints.TryAdvanceAsync(db, target.CheckpointName, from, reached, cancellationToken)) throw Moved(target);
        await transaction.CommitAsync(cancellationToken);
        return reached;
    }

    private async Task<GlobalCheckpoint> SkipOnAsync(Target target, StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken)
    {
        await using var db = await CreateContextAsync(target, cancellationToken);
        if (!await _checkpoints.TryAdvanceAsync(db, target.CheckpointName, from, parked.Checkpoint, cancellationToken)) throw Moved(target);
        return parked.Checkpoint;
    }

    private async Task<bool> NoLongerServesAsync(ReadModelGeneration generation, CancellationToken cancellationToken) =>
        (await _generations.ServingAsync(Name, cancellationToken)).Generation != generation.Generation;

    private ValueTask<TContext> CreateContextAsync(Target target, CancellationToken cancellationToken) =>
        target.Generation is { } generation
            ? _database.CreateContextAsync<TContext>(generation, cancellationToken)
            : _database.CreateContextAsync<TContext>(cancellationToken);

    // The checkpoint moved elsewhere: another runner, a rebuild, or a switch that retired the generation (read it again).
    private CheckpointMovedException Moved(Target target)
    {
        if (target.Generation is { State: GenerationState.Serving }) _serving = null;
        return new CheckpointMovedException(Name);
    }

    /// <summary>One generation as a projection of its own: what a build runner runs (its name is the generation's checkpoint).</summary>
    private sealed class GenerationProjection(EfCoreProjection<TContext> owner, Target target) : IProjection
    {
        public string Name => target.CheckpointName;

        public async Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken)
        {
            var generation = target.Generation!;
            // Taken over after the build switched in or was given up (its lease passed on): write nothing until stopped.
            if ((await owner._generations.ListAsync(owner.Name, cancellationToken))
                .SingleOrDefault(g => g.Generation == generation.Generation) is not { State: GenerationState.Building })
                await Task.Delay(Timeout.Infinite, cancellationToken);
            return await owner._checkpoints.LoadAsync(target.CheckpointName, cancellationToken);
        }

        public Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken) =>
            owner.ApplyToAsync(target, batch, from, cancellationToken);

        public Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken) =>
            owner.SkipOnAsync(target, parked, from, cancellationToken);

        public Task ResetAsync(CancellationToken cancellationToken) =>
            throw new NotSupportedException($"A build of '{owner.Name}' is not reset: start a new build instead.");
    }
}
