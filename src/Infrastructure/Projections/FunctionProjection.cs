using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>
/// The seed's projection: a name and a handler called once per event, in order. Its checkpoint is stored
/// after each batch (and up to the last success when one fails), so delivery is at least once: keep the
/// handler idempotent, or use <see cref="EfCoreProjection{TContext}"/> to move read model and checkpoint together.
/// </summary>
public sealed class FunctionProjection(
    string name,
    Func<StoredEventEnvelope, CancellationToken, Task> handler,
    IProjectionCheckpointStore? checkpoints = null,
    Func<CancellationToken, Task>? reset = null) : IProjection
{
    private readonly IProjectionCheckpointStore _checkpoints = checkpoints ?? new InMemoryCheckpointStore();

    public string Name { get; } = name;

    public Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken) => _checkpoints.LoadAsync(Name, cancellationToken);

    public async Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken)
    {
        var reached = from;
        foreach (var envelope in batch)
        {
            try
            {
                await handler(envelope, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await AdvanceAsync(from, reached, cancellationToken);
                throw new ProjectionApplyException(Name, envelope, reached, e);
            }
            reached = envelope.Checkpoint;
        }
        await AdvanceAsync(from, reached, cancellationToken);
        return reached;
    }

    public async Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken)
    {
        await AdvanceAsync(from, parked.Checkpoint, cancellationToken);
        return parked.Checkpoint;
    }

    public async Task ResetAsync(CancellationToken cancellationToken)
    {
        if (reset is not null) await reset(cancellationToken);
        await _checkpoints.ResetAsync(Name, cancellationToken);
    }

    private async Task AdvanceAsync(GlobalCheckpoint from, GlobalCheckpoint reached, CancellationToken cancellationToken)
    {
        if (reached != from && !await _checkpoints.TryAdvanceAsync(Name, from, reached, cancellationToken))
            throw new CheckpointMovedException(Name);
    }
}
