using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>
/// A read model fed from the global order. It applies batches in order and owns its checkpoint, so a
/// projection whose read model shares the event database can move both in one transaction.
/// </summary>
public interface IProjection
{
    /// <summary>Unique name: the checkpoint's key, and what operators and the monitor call it.</summary>
    string Name { get; }

    /// <summary>
    /// The lease a runner must hold to run it (one holder across replicas): its name, unless instances of different
    /// versions must not wait for each other (a read model's generations, see <see cref="EfCoreProjection{TContext}"/>).
    /// </summary>
    string LeaseName => Name;

    /// <summary>Where the projection stands: the last event it has applied.</summary>
    Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Applies <paramref name="batch"/> (which follows <paramref name="from"/>) in order and stores the checkpoint
    /// reached. Throws <see cref="ProjectionApplyException"/> when an event fails, and
    /// <see cref="CheckpointMovedException"/> when the stored checkpoint is no longer <paramref name="from"/>.
    /// </summary>
    Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken);

    /// <summary>
    /// Moves the checkpoint from <paramref name="from"/> past <paramref name="parked"/> (the event right after it) without
    /// applying it: an operator parked that event. Throws <see cref="CheckpointMovedException"/> like <see cref="ApplyAsync"/>.
    /// </summary>
    Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken);

    /// <summary>Clears the read model and puts the checkpoint back before the first event.</summary>
    Task ResetAsync(CancellationToken cancellationToken);
}

/// <summary>An event failed to apply; <see cref="Reached"/> is the checkpoint stored before it (retry from there).</summary>
public sealed class ProjectionApplyException(string projection, StoredEventEnvelope failed, GlobalCheckpoint reached, Exception inner)
    : Exception($"Projection '{projection}' failed on event {failed.EventId} ({failed.EventType} #{failed.Sequence} of {failed.AggregateId}): {inner.Message}", inner)
{
    public StoredEventEnvelope Failed { get; } = failed;
    public GlobalCheckpoint Reached { get; } = reached;
}

/// <summary>Someone else moved the checkpoint (a rebuild, or another instance): reload it before going on.</summary>
public sealed class CheckpointMovedException(string projection)
    : Exception($"The checkpoint of projection '{projection}' was moved by someone else.");
