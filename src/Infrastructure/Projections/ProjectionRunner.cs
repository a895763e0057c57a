using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrdersEs.Infrastructure.Diagnostics;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>Tuning of <see cref="ProjectionRunner"/>.</summary>
public sealed record ProjectionOptions
{
    public int BatchSize { get; init; } = 500;
    /// <summary>The longest a runner sleeps without a wake-up signal before it looks for new events anyway.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Runs one projection as a hosted service: while it holds the projection's lease it reads the global
/// order in batches after the checkpoint and applies them in order. A failure is retried from the failed
/// event with exponential backoff (logged once per step), so no event is ever skipped on its own: only an
/// event an operator parked (<see cref="IProjectionSkipStore"/>) is passed over, and the failure is reported
/// to the <see cref="ProjectionMonitor"/> meanwhile.
/// </summary>
public sealed partial class ProjectionRunner : BackgroundService
{
    private readonly IEventStore _store;
    private readonly EventStoreSignal _signal;
    private readonly IProjectionLease _lease;
    private readonly ProjectionMonitor _monitor;
    private readonly ProjectionOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly IProjectionSkipStore _skips;
    // The span and log scope name of this projection's batches.
    private readonly string _batchWork;
    private volatile bool _reload;
    // Set when an operator parks an event here, or after a failure: the parked ids are read again before the next attempt.
    private volatile bool _reloadSkips;
    private IReadOnlySet<string> _skipped = new HashSet<string>();
    // Completed to cut the backoff after a failure short (an operator parked the failing event through this instance).
    private TaskCompletionSource _retryNow = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ProjectionRunner(
        IProjection projection,
        IEventStore store,
        EventStoreSignal signal,
        IProjectionLease lease,
        ProjectionMonitor monitor,
        ProjectionOptions? options = null,
        TimeProvider? timeProvider = null,
        ILogger<ProjectionRunner>? logger = null,
        IProjectionSkipStore? skips = null)
    {
        Projection = projection;
        _batchWork = "projection " + projection.Name;
        _store = store;
        _signal = signal;
        _lease = lease;
        _monitor = monitor;
        _options = options ?? new ProjectionOptions();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _skips = skips ?? new InMemoryProjectionSkipStore();
        monitor.Register(this);
    }

    public IProjection Projection { get; }

    /// <summary>Where this projection's parked events are kept.</summary>
    public IProjectionSkipStore Skips => _skips;

    /// <summary>Clears the read model and its checkpoint; the runner holding the lease replays from the first event.</summary>
    public async Task RebuildAsync(CancellationToken cancellationToken)
    {
        await Projection.ResetAsync(cancellationToken);
        _monitor.Update(Projection.Name, s => s with { Rebuilding = true });
        _reload = true;
        _signal.Notify();
        LogRebuild(Projection.Name);
    }

    /// <summary>
    /// Parks <paramref name="eventId"/> so the projection moves on without it. Only the event the projection is held at
    /// can be parked: the one this instance is failing on, or (where another replica runs it) the event right after
    /// the durable checkpoint. Asking again for an event already parked changes nothing.
    /// </summary>
    public async Task<SkipOutcome> SkipAsync(string eventId, string reason, CancellationToken cancellationToken)
    {
        if (await _skips.FindAsync(Projection.Name, eventId, cancellationToken) is { } already)
            return new SkipOutcome(SkipResult.AlreadySkipped, already, null);

        var status = _monitor.Find(Projection.Name);
        var failure = status?.Failure;
        if (status is { Active: true } && failure is null)
            return new SkipOutcome(SkipResult.NotHeld, null, $"Projection '{Projection.Name}' is not failing: there is no event to skip.");
        if (failure?.EventId is { } failingId && failingId != eventId)
            return new SkipOutcome(SkipResult.NotHeld, null, $"Projection '{Projection.Name}' is failing on event {failingId}, not on {eventId}.");

        var checkpoint = await Projection.LoadCheckpointAsync(cancellationToken);
        StoredEventEnvelope? next;
        try
        {
            next = (await _store.ReadAllAsync(checkpoint, 1, cancellationToken)).FirstOrDefault();
        }
        catch (EventDecodingException unreadable) when (unreadable.Row is { } row)
        {
            next = row; // a row that cannot be read at all: parked by its columns
        }
        if (next is null || next.EventId != eventId)
        {
            return new SkipOutcome(SkipResult.NotHeld, null, next is null
                ? $"Projection '{Projection.Name}' has applied every event: {eventId} is not the event it is held at."
                : $"Projection '{Projection.Name}' is held at event {next.EventId}, not at {eventId}.");
        }

        var skipped = new SkippedEvent(Projection.Name, next.EventId, next.Checkpoint, next.EventType, next.AggregateId,
            failure?.Error, reason, _timeProvider.GetUtcNow());
        if (!await _skips.AddAsync(skipped, cancellationToken))
            return new SkipOutcome(SkipResult.AlreadySkipped, await _skips.FindAsync(Projection.Name, eventId, cancellationToken), null);
        LogParked(Projection.Name, next.EventId, next.EventType, next.Checkpoint.ToString(), reason);
        _reloadSkips = true;
        _retryNow.TrySetResult();
        _signal.Notify();
        return new SkipOutcome(SkipResult.Skipped, skipped, null);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            ILeaseHandle lease;
            try
            {
                lease = await _lease.AcquireAsync(Projection.LeaseName, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            await using (lease)
            {
                _monitor.Update(Projection.Name, s => s with { Active = true });
                LogActive(Projection.Name);
                try
                {
                    await RunWhileHeldAsync(lease, stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                }
                finally
                {
                    // Another instance may run it now: what this one saw of a failure is no longer current.
                    _monitor.Update(Projection.Name, s => s with { Active = false, Failure = null });
                }
            }
        }
    }

    private async Task RunWhileHeldAsync(ILeaseHandle lease, CancellationToken stoppingToken)
    {
        GlobalCheckpoint? checkpoint = null;
        Task<IReadOnlyList<StoredEventEnvelope>>? readAhead = null;
        var readAheadWake = Task.CompletedTask;
        var failures = 0;
        // After a batch failed, its events are applied one at a time up to its last one, so the failing event is
        // found (and named) even when the failure came from the batch's commit rather than from one event.
        var oneByOneUntil = GlobalCheckpoint.Start;
        // After a read failed on a row the store cannot decode, as many events one at a time as that read asked for: the
        // row is among them, and a whole batch read again would fail on it again before anything ahead of it is applied.
        // (A read that failed otherwise, say a dropped connection, is simply retried.)
        var oneByOneEvents = 0;
        // Whether an empty read may be a held horizon rather than the head: a signal or a batch came since the last look.
        var mayBeHeld = true;
        // Since when committed events have been seen held back behind the read horizon (null: none seen).
        long? heldSince = null;
        while (lease.IsHeld && !stoppingToken.IsCancellationRequested)
        {
            // The one event being applied alone (after a failure): a failure without a named event is its failure.
            StoredEventEnvelope? alone = null;
            var lastOfBatch = GlobalCheckpoint.Start;
            // The number of events the read in progress asks for; 0 once it has returned.
            var reading = 0;
            try
            {
                if (checkpoint is null || _reload)
                {
                    _reload = false;
                    Discard(ref readAhead);
                    checkpoint = await Projection.LoadCheckpointAsync(stoppingToken);
                    _monitor.ReportProgress(Projection.Name, checkpoint.Value);
                    _reloadSkips = true;
                }
                if (_reloadSkips)
                {
                    _reloadSkips = false;
                    _skipped = await _skips.LoadEventIdsAsync(Projection.Name, stoppingToken);
                }
                // After a failure, go one event at a time so everything before the failing event gets applied.
                var limit = failures > 0 || checkpoint.Value < oneByOneUntil || oneByOneEvents > 0 ? 1 : _options.BatchSize;
                // Taken before reading: an append committed after the read wakes the wait below.
                var wake = readAhead is not null ? readAheadWake : _signal.NextNotification;
                reading = readAhead is not null ? _options.BatchSize : limit;
                IReadOnlyList<StoredEventEnvelope> batch;
                try
                {
                    batch = readAhead is not null ? await readAhead : await _store.ReadAllAsync(checkpoint.Value, limit, stoppingToken);
                }
                catch (EventDecodingException unreadable) when (reading == 1 && unreadable.Row is { } row && _skipped.Contains(row.EventId))
                {
                    // The next row cannot be read at all, and an operator parked it: passed over below like any parked event.
                    batch = [row];
                }
                readAhead = null;
                // Short of what it asked for: the read reached the store's head (as far as the read horizon let it see).
                var readToHead = batch.Count < reading;
                reading = 0;
                if (batch.Count == 0)
                {
                    failures = 0;
                    RebuildCaughtUp();
                    // Nothing readable. On PostgreSQL, events may be committed yet held back: an older transaction still open
                    // anywhere on the server (the outbox dispatcher's, another service's) holds the read horizon, and its end
                    // sends no signal. Under load the next append's signal comes within milliseconds and the runner simply
                    // reads again; without one for MinRecheck, one probe of the lag tells a held horizon from the head.
                    // Held: look again soon, as the horizon usually moves within milliseconds, then less often the longer it
                    // is held (an event is late by at most a quarter of the hold, and by at most MaxRecheck), and after a
                    // whole poll interval only at the poll. Committed events do not go away, so a hold lasts, unprobed,
                    // until a read returns them. At the head: wait for a signal or the poll, without querying.
                    if (heldSince is null)
                    {
                        if (await EventStoreSignal.WaitAsync(wake, MinRecheck, _timeProvider, stoppingToken))
                        {
                            mayBeHeld = true;
                            continue;
                        }
                        if (mayBeHeld && (await _store.LagAsync(checkpoint.Value, 1, stoppingToken)).Events > 0)
                            heldSince = _timeProvider.GetTimestamp();
                        else
                            mayBeHeld = false;
                    }
                    var timeout = _options.PollInterval;
                    if (heldSince is { } since && _timeProvider.GetElapsedTime(since) is var held && held < _options.PollInterval)
                        timeout = Min(HeldRecheck(held), _options.PollInterval);
                    if (await EventStoreSignal.WaitAsync(wake, timeout, _timeProvider, stoppingToken)) mayBeHeld = true;
                    // A whole poll without a signal: look at the durable checkpoint too (another instance may have reset it).
                    else if (timeout == _options.PollInterval) _reload = true;
                    continue;
                }
                mayBeHeld = true;
                heldSince = null;
                if (_skipped.Count > 0 && IndexOfParked(batch) is var parkedAt and >= 0)
                {
                    if (parkedAt == 0)
                    {
                        checkpoint = await Projection.SkipAsync(batch[0], checkpoint.Value, stoppingToken);
                        LogSkipped(Projection.Name, batch[0].EventId, batch[0].Checkpoint.ToString());
                        oneByOneEvents = Math.Max(0, oneByOneEvents - 1);
                        Progressed(checkpoint.Value, ref failures);
                        continue;
                    }
                    batch = batch.Take(parkedAt).ToArray();
                }
                // Catching up (a full batch): read the next batch while this one is applied.
                if (batch.Count == _options.BatchSize)
                {
                    readAheadWake = _signal.NextNotification;
                    readAhead = _store.ReadAllAsync(batch[^1].Checkpoint, _options.BatchSize, stoppingToken);
                }
                if (batch.Count == 1) alone = batch[0];
                lastOfBatch = batch[^1].Checkpoint;
                using (WorkScope.ForEvents(_logger, _batchWork, batch))
                    checkpoint = await Projection.ApplyAsync(batch, checkpoint.Value, stoppingToken);
                oneByOneEvents = Math.Max(0, oneByOneEvents - batch.Count);
                Progressed(checkpoint.Value, ref failures, readToHead);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                Discard(ref readAhead);
                throw;
            }
            catch (CheckpointMovedException)
            {
                Discard(ref readAhead);
                checkpoint = null;
            }
            catch (Exception e)
            {
                Discard(ref readAhead);
                if (e is ProjectionApplyException applyError && applyError.Reached != checkpoint)
                {
                    checkpoint = applyError.Reached;
                    _monitor.ReportProgress(Projection.Name, applyError.Reached);
                }
                failures++;
                if (lastOfBatch > oneByOneUntil) oneByOneUntil = lastOfBatch;
                if (e is EventDecodingException && reading > oneByOneEvents) oneByOneEvents = reading;
                var delay = Backoff(failures);
                _monitor.Update(Projection.Name, s => s with { LastError = e.Message });
                // A row the store cannot read is named by its columns: the event to park.
                var failed = (e as ProjectionApplyException)?.Failed ?? alone ?? (e as EventDecodingException)?.Row;
                _monitor.ReportFailure(Projection.Name, failed, ProjectionFailure.Describe(e));
                using (failed is null ? null : WorkScope.ForEvent(_logger, _batchWork, failed))
                    LogFailure(e, Projection.Name, failures, delay);
                // An operator may park the failing event meanwhile, here or through another replica.
                _reloadSkips = true;
                await WaitBeforeRetryAsync(delay, stoppingToken);
            }
        }
        Discard(ref readAhead);
    }

    private void Progressed(GlobalCheckpoint checkpoint, ref int failures, bool readToHead = false)
    {
        _monitor.ReportProgress(Projection.Name, checkpoint, readToHead);
        // Under writes that never pause no read comes back empty: a read that reached the head ends a rebuild too.
        if (readToHead) RebuildCaughtUp();
        _monitor.ClearFailure(Projection.Name);
        if (failures > 0) LogRecovered(Projection.Name, failures);
        failures = 0;
    }

    // A rebuild is over once the runner reached the head from the reset checkpoint (not from one loaded before the reset).
    private void RebuildCaughtUp()
    {
        if (_monitor.Find(Projection.Name) is { Rebuilding: true } && !_reload)
            _monitor.Update(Projection.Name, s => s with { Rebuilding = false });
    }

    private int IndexOfParked(IReadOnlyList<StoredEventEnvelope> batch)
    {
        for (var i = 0; i < batch.Count; i++)
            if (_skipped.Contains(batch[i].EventId)) return i;
        return -1;
    }

    private async Task WaitBeforeRetryAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        var retryNow = Volatile.Read(ref _retryNow);
        if (retryNow.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _retryNow, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), retryNow);
            return;
        }
        if (await EventStoreSignal.WaitAsync(retryNow.Task, delay, _timeProvider, stoppingToken))
            Interlocked.CompareExchange(ref _retryNow, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), retryNow);
    }

    // A read-ahead that will not be used: its outcome (even a failure) is observed and dropped.
    private static void Discard(ref Task<IReadOnlyList<StoredEventEnvelope>>? readAhead)
    {
        readAhead?.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        readAhead = null;
    }

    // The shortest wait before looking again at an empty read without a signal (and before asking whether events are held).
    private static readonly TimeSpan MinRecheck = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan MaxRecheck = TimeSpan.FromSeconds(1);

    // The wait before looking again at events held back for `held`: a quarter of it, within [MinRecheck, MaxRecheck].
    private static TimeSpan HeldRecheck(TimeSpan held) =>
        TimeSpan.FromTicks(Math.Clamp(held.Ticks / 4, MinRecheck.Ticks, MaxRecheck.Ticks));

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private TimeSpan Backoff(int failures)
    {
        var exponential = _options.InitialRetryDelay * Math.Pow(2, Math.Min(failures - 1, 20));
        return exponential < _options.MaxRetryDelay ? exponential : _options.MaxRetryDelay;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Projection {Projection} is active in this instance")]
    private partial void LogActive(string projection);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Projection {Projection} failed (attempt {Attempt}); retrying in {Delay}")]
    private partial void LogFailure(Exception exception, string projection, int attempt, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Projection {Projection} recovered after {Attempts} failed attempts")]
    private partial void LogRecovered(string projection, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Projection {Projection}: event {EventId} ({EventType} at {Checkpoint}) parked by an operator: {Reason}")]
    private partial void LogParked(string projection, string eventId, string eventType, string checkpoint, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Projection {Projection} passed over parked event {EventId} at {Checkpoint}")]
    private partial void LogSkipped(string projection, string eventId, string checkpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Projection {Projection} reset: rebuilding from the first event")]
    private partial void LogRebuild(string projection);
}
