using System.Collections.Concurrent;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>What operators see of one projection in this instance.</summary>
public sealed record ProjectionStatus(string Name, GlobalCheckpoint Checkpoint, bool Active, string? LastError, DateTimeOffset? LastProgressAt)
{
    /// <summary>The failure this instance is retrying, while it runs the projection and has not got past it; else null.</summary>
    public ProjectionFailure? Failure { get; init; }

    /// <summary>Reset and replaying from the first event, not yet caught up (as this instance knows): behind by design.</summary>
    public bool Rebuilding { get; init; }

    /// <summary>
    /// A generation of another version of its read model is being built beside the serving one (<see cref="ReadModelBuilder"/>):
    /// only instances of the serving generation's version write it, so it may be behind by design until the switch.
    /// </summary>
    public bool VersionBuilding { get; init; }

    /// <summary>
    /// The runner's last read came back short of a full batch and it has applied what it read: it was at the store's head
    /// as of that read, and is behind only by what was committed since (as this instance knows).
    /// </summary>
    public bool ReadToHead { get; init; }
}

/// <summary>
/// A projection held at one place: the event it cannot apply (null fields when the failure came before an event
/// was known, such as a read that failed), the last error, and since when and how often it was tried.
/// </summary>
public sealed record ProjectionFailure(
    string? EventId, GlobalCheckpoint? Checkpoint, string? EventType, string? AggregateId,
    string Error, int Attempts, DateTimeOffset FailingSince, DateTimeOffset LastAttemptAt)
{
    /// <summary>Longest error text kept: enough for any real message, bounded for the admin view and the health report.</summary>
    public const int MaxErrorLength = 2000;

    /// <summary>
    /// The text shown for <paramref name="error"/>: the innermost exception (a wrapper's message often just says "see the
    /// inner exception"), except that an <see cref="EventDecodingException"/> is shown itself (it names the event and the
    /// member, its inner JSON error does not), control characters replaced, so it is safe in any column, log line or JSON document.
    /// </summary>
    public static string Describe(Exception error)
    {
        var root = error;
        while (root is not EventDecodingException && root.InnerException is { } inner) root = inner;
        return Clean($"{root.GetType().Name}: {root.Message}", MaxErrorLength);
    }

    /// <summary>
    /// <paramref name="text"/> cut to <paramref name="maxLength"/>, with control characters and unpaired surrogates
    /// replaced by U+FFFD: PostgreSQL's text columns refuse NUL and cannot encode a lone surrogate.
    /// </summary>
    public static string Clean(string text, int maxLength)
    {
        var chars = (text.Length > maxLength ? text[..maxLength] : text).ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else if (char.IsControl(chars[i]) || char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }
}

/// <summary>
/// Status of the projections run by this instance (with the failure each is retrying), a progress signal that
/// read-your-writes waits on, and the rebuild and park requests the admin API makes.
/// </summary>
public sealed class ProjectionMonitor(TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<string, ProjectionStatus> _statuses = new();
    private readonly ConcurrentDictionary<string, ProjectionRunner> _runners = new();
    private TaskCompletionSource _progress = NewSource();
    private ReadModelBuilder? _builder;

    /// <summary>How often a waiter re-checks its condition when no progress is seen here (another instance may run the projection).</summary>
    public TimeSpan FallbackCheckInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    public IReadOnlyList<ProjectionStatus> Statuses => _statuses.Values.OrderBy(s => s.Name, StringComparer.Ordinal).ToArray();

    public ProjectionStatus? Find(string name) => _statuses.GetValueOrDefault(name);

    internal void Register(ProjectionRunner runner)
    {
        _runners[runner.Projection.Name] = runner;
        _statuses.TryAdd(runner.Projection.Name, new ProjectionStatus(runner.Projection.Name, GlobalCheckpoint.Start, false, null, null));
    }

    /// <summary>The projections of the runners registered here.</summary>
    internal IReadOnlyList<IProjection> Projections => _runners.Values.Select(r => r.Projection).ToArray();

    /// <summary>The builds of read models go through <paramref name="builder"/> (blue/green) instead of a reset in place.</summary>
    internal void AttachBuilder(ReadModelBuilder builder) => _builder = builder;

    /// <summary>The projection registered as <paramref name="name"/>, or null.</summary>
    public IProjection? Projection(string name) => _runners.TryGetValue(name, out var runner) ? runner.Projection : null;

    /// <summary>The builder of read-model generations, when the service runs one.</summary>
    public ReadModelBuilder? Builder => _builder;

    /// <summary>Drops what this monitor knows of <paramref name="name"/> (a build that ended).</summary>
    internal void Forget(string name)
    {
        _statuses.TryRemove(name, out _);
        _runners.TryRemove(name, out _);
    }

    internal void Update(string name, Func<ProjectionStatus, ProjectionStatus> change) =>
        _statuses.AddOrUpdate(name, n => change(new ProjectionStatus(n, GlobalCheckpoint.Start, false, null, null)), (_, s) => change(s));

    /// <summary>
    /// Records a failed attempt: on the event already failing (or on an unknown one, when no event was known) the
    /// attempts go up and the time it started failing stays; on another event a new failure starts.
    /// </summary>
    internal void ReportFailure(string name, StoredEventEnvelope? failed, string error)
    {
        var now = timeProvider.GetUtcNow();
        Update(name, s =>
        {
            var current = s.Failure;
            var same = current is not null && (failed is null || current.EventId is null || current.EventId == failed.EventId);
            var failure = same
                ? current! with
                {
                    EventId = failed?.EventId ?? current!.EventId,
                    Checkpoint = failed?.Checkpoint ?? current!.Checkpoint,
                    EventType = failed?.EventType ?? current!.EventType,
                    AggregateId = failed?.AggregateId ?? current!.AggregateId,
                    Error = error,
                    Attempts = current!.Attempts + 1,
                    LastAttemptAt = now,
                }
                : new ProjectionFailure(failed?.EventId, failed?.Checkpoint, failed?.EventType, failed?.AggregateId, error, 1, now, now);
            return s with { Failure = failure };
        });
    }

    /// <summary>The projection got past its failure (applied, skipped, rebuilt) or this instance stopped running it.</summary>
    internal void ClearFailure(string name) => Update(name, s => s.Failure is null ? s : s with { Failure = null });

    internal void ReportProgress(string name, GlobalCheckpoint checkpoint, bool readToHead = false)
    {
        Update(name, s => s with { Checkpoint = checkpoint, ReadToHead = readToHead, LastError = null, LastProgressAt = timeProvider.GetUtcNow() });
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
            await EventStoreSignal.WaitAsync(progress, left < FallbackCheckInterval ? left : FallbackCheckInterval, timeProvider, cancellationToken);
        }
    }

    /// <summary>The longest a read-your-write (<see cref="ReadAtLeastAsync{TRow}"/>) waits for a projection.</summary>
    public static readonly TimeSpan MaxReadYourWriteWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Reads a read-model row with <paramref name="find"/>; with <paramref name="minVersion"/>, reads it again after each
    /// projection batch until it holds that version, for at most <see cref="MaxReadYourWriteWait"/>, then answers what it has.
    /// </summary>
    public async Task<TRow?> ReadAtLeastAsync<TRow>(
        int? minVersion, Func<TRow, int> versionOf, Func<CancellationToken, Task<TRow?>> find, CancellationToken cancellationToken)
        where TRow : class
    {
        if (minVersion is not { } min) return await find(cancellationToken);
        TRow? row = null;
        await WaitUntilAsync(async ct =>
        {
            row = await find(ct);
            return row is not null && versionOf(row) >= min;
        }, MaxReadYourWriteWait, cancellationToken);
        return row;
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

    /// <summary>
    /// Rebuilds the projection from the first event: a read model blue/green, into a new generation while the serving one
    /// keeps answering (<see cref="ReadModelBuilder"/>); any other projection by a reset in place. False for an unknown name.
    /// </summary>
    public async Task<bool> RebuildAsync(string name, CancellationToken cancellationToken)
    {
        if (!_runners.TryGetValue(name, out var runner)) return false;
        if (_builder is not null && runner.Projection is IGenerationalProjection { ReadModel: not null } generational)
        {
            await _builder.RebuildAsync(generational, cancellationToken);
        }
        else
        {
            await runner.RebuildAsync(cancellationToken);
        }
        return true;
    }

    /// <summary>
    /// Parks <paramref name="eventId"/> for the projection (see <see cref="ProjectionRunner.SkipAsync"/>), or for a build of
    /// its read model run here that is failing on it (<see cref="ReadModelBuilder.SkipInBuildAsync"/>); null for an unknown name.
    /// </summary>
    public async Task<SkipOutcome?> SkipAsync(string name, string eventId, string reason, CancellationToken cancellationToken)
    {
        if (!_runners.TryGetValue(name, out var runner)) return null;
        var outcome = await runner.SkipAsync(eventId, reason, cancellationToken);
        if (outcome.Result == SkipResult.NotHeld && _builder is not null
            && await _builder.SkipInBuildAsync(name, eventId, reason, cancellationToken) is { } inBuild)
            return inBuild;
        return outcome;
    }

    /// <summary>The events parked for the projection, most recent first; empty for an unknown name.</summary>
    public async Task<IReadOnlyList<SkippedEvent>> SkippedAsync(string name, int limit, CancellationToken cancellationToken) =>
        _runners.TryGetValue(name, out var runner) ? await runner.Skips.ListAsync(name, limit, cancellationToken) : [];

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
