using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
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
/// event with exponential backoff (logged once per step), so no event is ever skipped.
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
    private volatile bool _reload;

    public ProjectionRunner(
        IProjection projection,
        IEventStore store,
        EventStoreSignal signal,
        IProjectionLease lease,
        ProjectionMonitor monitor,
        ProjectionOptions? options = null,
        TimeProvider? timeProvider = null,
        ILogger<ProjectionRunner>? logger = null)
    {
        Projection = projection;
        _store = store;
        _signal = signal;
        _lease = lease;
        _monitor = monitor;
        _options = options ?? new ProjectionOptions();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        monitor.Register(this);
    }

    public IProjection Projection { get; }

    /// <summary>Clears the read model and its checkpoint; the runner holding the lease replays from the first event.</summary>
    public async Task RebuildAsync(CancellationToken cancellationToken)
    {
        await Projection.ResetAsync(cancellationToken);
        _reload = true;
        _signal.Notify();
        LogRebuild(Projection.Name);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            ILeaseHandle lease;
            try
            {
                lease = await _lease.AcquireAsync(Projection.Name, stoppingToken);
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
                    _monitor.Update(Projection.Name, s => s with { Active = false });
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
        // Set while woken but held back: the next short wait before looking again (null: wait for a signal or the poll).
        TimeSpan? recheck = null;
        while (lease.IsHeld && !stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (checkpoint is null || _reload)
                {
                    _reload = false;
                    Discard(ref readAhead);
                    checkpoint = await Projection.LoadCheckpointAsync(stoppingToken);
                    _monitor.ReportProgress(Projection.Name, checkpoint.Value);
                }
                // After a failure, go one event at a time so everything before the failing event gets applied.
                var limit = failures > 0 ? 1 : _options.BatchSize;
                // Taken before reading: an append committed after the read wakes the wait below.
                var wake = readAhead is not null ? readAheadWake : _signal.NextNotification;
                var batch = readAhead is not null ? await readAhead : await _store.ReadAllAsync(checkpoint.Value, limit, stoppingToken);
                readAhead = null;
                if (batch.Count == 0)
                {
                    failures = 0;
                    // Signalled but nothing readable: on PostgreSQL an older transaction still open somewhere holds
                    // the read horizon, and its end sends no signal. Look again soon, backing off towards the poll.
                    var signalled = await EventStoreSignal.WaitAsync(wake, recheck ?? _options.PollInterval, _timeProvider, stoppingToken);
                    recheck = signalled ? FirstRecheck
                        : recheck is { } last && last < _options.PollInterval ? Min(last * 2, _options.PollInterval)
                        : null;
                    if (recheck is null) _reload = true;
                    continue;
                }
                recheck = null;
                // Catching up (a full batch): read the next batch while this one is applied.
                if (batch.Count == _options.BatchSize)
                {
                    readAheadWake = _signal.NextNotification;
                    readAhead = _store.ReadAllAsync(batch[^1].Checkpoint, _options.BatchSize, stoppingToken);
                }
                checkpoint = await Projection.ApplyAsync(batch, checkpoint.Value, stoppingToken);
                _monitor.ReportProgress(Projection.Name, checkpoint.Value);
                if (failures > 0) LogRecovered(Projection.Name, failures);
                failures = 0;
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
                var delay = Backoff(failures);
                _monitor.Update(Projection.Name, s => s with { LastError = e.Message });
                LogFailure(e, Projection.Name, failures, delay);
                await Task.Delay(delay, _timeProvider, stoppingToken);
            }
        }
        Discard(ref readAhead);
    }

    // A read-ahead that will not be used: its outcome (even a failure) is observed and dropped.
    private static void Discard(ref Task<IReadOnlyList<StoredEventEnvelope>>? readAhead)
    {
        readAhead?.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        readAhead = null;
    }

    private static readonly TimeSpan FirstRecheck = TimeSpan.FromMilliseconds(10);

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Projection {Projection} reset: rebuilding from the first event")]
    private partial void LogRebuild(string projection);
}
