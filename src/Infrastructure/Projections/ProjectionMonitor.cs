using System.Collections.Concurrent;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>What operators see of one projection in this instance.</summary>
public sealed record ProjectionStatus(string Name, GlobalCheckpoint Checkpoint, bool Active, string? LastError, DateTimeOffset? LastProgressAt);

/// <summary>
/// Status of the projections run by this instance, a progress signal that read-your-writes waits on,
/// and the rebuild requests the admin API makes.
/// </summary>
public sealed class ProjectionMonitor(TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<string, ProjectionStatus> _statuses = new();
    private readonly ConcurrentDictionary<string, ProjectionRunner> _runners = new();
    private TaskCompletionSource _progress = NewSource();

    /// <summary>How often a waiter re-checks its condition when no progress is seen here (another instance may run the projection).</summary>
    public TimeSpan FallbackCheckInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    public IReadOnlyList<ProjectionStatus> Statuses => _statuses.Values.OrderBy(s => s.Name, StringComparer.Ordinal).ToArray();

    public ProjectionStatus? Find(string name) => _statuses.GetValueOrDefault(name);

    internal void Register(ProjectionRunner runner)
    {
        _runners[runner.Projection.Name] = runner;
        _statuses.TryAdd(runner.Projection.Name, new ProjectionStatus(runner.Projection.Name, GlobalCheckpoint.Start, false, null, null));
    }

    internal void Update(string name, Func<ProjectionStatus, ProjectionStatus> change) =>
        _statuses.AddOrUpdate(name, n => change(new ProjectionStatus(n, GlobalCheckpoint.Start, false, null, null)), (_, s) => change(s));

    internal void ReportProgress(string name, GlobalCheckpoint checkpoint)
    {
        Update(name, s => s with { Checkpoint = checkpoint, LastError = null, LastProgressAt = timeProvider.GetUtcNow() });
        Interlocked.Exchange(ref _progress, NewSource()).TrySetResult();
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, re-checking after each projection batch of this instance
    /// (and every <see cref="FallbackCheckInterval"/> for batches applied elsewhere); false on timeout.
    /// </summary>
    public async Task<bool> WaitUntilAsync(Func<CancellationToken, Task<bool>> condition, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = timeProvider.GetUtcNow() + timeout;
        while (true)
        {
            var progress = Volatile.Read(ref _progress).Task;
            if (await condition(cancellationToken)) return true;
            var left = deadline - timeProvider.GetUtcNow();
            if (left <= TimeSpan.Zero) return false;
            try
            {
                await progress.WaitAsync(left < FallbackCheckInterval ? left : FallbackCheckInterval, timeProvider, cancellationToken);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    /// <summary>
    /// The projection's status with its durable checkpoint: where another replica runs it, this instance's
    /// in-memory view would be stale.
    /// </summary>
    public async Task<ProjectionStatus?> CurrentAsync(string name, CancellationToken cancellationToken)
    {
        if (Find(name) is not { } status || !_runners.TryGetValue(name, out var runner)) return null;
        return status.Active ? status : status with { Checkpoint = await runner.Projection.LoadCheckpointAsync(cancellationToken) };
    }

    /// <summary>Resets the projection and rebuilds it from the first event; false for an unknown name.</summary>
    public async Task<bool> RebuildAsync(string name, CancellationToken cancellationToken)
    {
        if (!_runners.TryGetValue(name, out var runner)) return false;
        await runner.RebuildAsync(cancellationToken);
        return true;
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
