using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>A projection that keeps its read model in generations and can build a new one beside the serving one.</summary>
public interface IGenerationalProjection : IProjection
{
    /// <summary>The read model it keeps; null when the database hosts none of its name (then it has no generations).</summary>
    IReadModelSchema? ReadModel { get; }

    Task<ReadModelGeneration> StartBuildAsync(string reason, CancellationToken cancellationToken);

    Task<IReadOnlyList<ReadModelGeneration>> GenerationsAsync(CancellationToken cancellationToken);

    Task<bool> SwitchAsync(ReadModelGeneration build, CancellationToken cancellationToken);

    Task<int> DropRetiredAsync(TimeSpan grace, CancellationToken cancellationToken);

    Task<GlobalCheckpoint> CheckpointOfAsync(ReadModelGeneration generation, CancellationToken cancellationToken);

    IProjection ForGeneration(ReadModelGeneration generation);
}

/// <summary>When a build takes over and how long a retired generation is kept, bound from <c>pyfly:eventsourcing:projections</c>.</summary>
public sealed class ReadModelBuildOptions
{
    public const string SwitchLagEventsKey = ProjectionHealthOptions.SectionKey + ":switch-lag-events";
    public const string RetiredGraceKey = ProjectionHealthOptions.SectionKey + ":retired-grace";

    /// <summary>
    /// A build switches in once it is at most this many events behind the store's head (0: fully caught up), or once its
    /// last read reached the head and it is at most a batch behind (writes that never pause).
    /// </summary>
    [ConfigurationKeyName("switch-lag-events")]
    public int SwitchLagEvents { get; set; }

    /// <summary>How long the tables of a generation that no longer serves are kept (queries begun before the switch finish on them).</summary>
    [ConfigurationKeyName("retired-grace")]
    public TimeSpan RetiredGrace { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often each instance looks for builds started elsewhere (a deployment, another replica's rebuild).</summary>
    internal TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a running build's lag is measured against the switch threshold.</summary>
    internal TimeSpan SwitchCheckInterval { get; set; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>Rejects a negative threshold or grace, naming the key.</summary>
internal sealed class ReadModelBuildOptionsValidator : IValidateOptions<ReadModelBuildOptions>
{
    public ValidateOptionsResult Validate(string? name, ReadModelBuildOptions options)
    {
        var errors = new List<string>();
        if (options.SwitchLagEvents < 0)
            errors.Add($"Configuration key '{ReadModelBuildOptions.SwitchLagEventsKey}' has the value '{options.SwitchLagEvents}'; expected 0 or a positive number of events.");
        if (options.RetiredGrace < TimeSpan.Zero)
            errors.Add($"Configuration key '{ReadModelBuildOptions.RetiredGraceKey}' has the value '{options.RetiredGrace}'; expected a duration of 0 or more such as 00:05:00.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>A build run here that keeps failing: its read model, its generation and the failure it retries.</summary>
public sealed record FailingBuild(string ReadModel, ReadModelGeneration Generation, ProjectionFailure Failure);

/// <summary>What operators see of one generation: where it stands and, for a build run here, what it is failing on.</summary>
public sealed record GenerationStatus(ReadModelGeneration Generation, GlobalCheckpoint? Checkpoint, bool BuildingHere, ProjectionFailure? Failure);

/// <summary>
/// Runs the blue/green builds of the read models (<see cref="IGenerationalProjection"/>): every instance looks for
/// generations being built at its own version and runs each in a <see cref="ProjectionRunner"/> of its own, whose lease
/// (the generation's name) lets one instance at a time build it. Once the build is at most
/// <see cref="ReadModelBuildOptions.SwitchLagEvents"/> behind the store's head, or has read to the head and is at most a
/// batch behind (under writes that never pause it is seldom exactly there), the instance building it switches the read
/// model's view to it in one transaction; the old generation is retired and its table dropped after
/// <see cref="ReadModelBuildOptions.RetiredGrace"/>. A build that keeps failing never switches: the serving generation
/// goes on serving. Builds write only their own tables and checkpoint: nothing reaches the outbox or the broker.
/// </summary>
public sealed partial class ReadModelBuilder : BackgroundService
{
    private readonly ProjectionMonitor _monitor;
    private readonly IEventStore _store;
    private readonly EventStoreSignal _signal;
    private readonly IProjectionLease _lease;
    private readonly IProjectionSkipStore _skips;
    private readonly ProjectionOptions _projectionOptions;
    private readonly ReadModelBuildOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    // The build runners' own statuses: a build is not a projection of its own in the admin view or the health check.
    private readonly ProjectionMonitor _builds;
    private readonly ConcurrentDictionary<string, Build> _running = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ReadModelBuilder(
        ProjectionMonitor monitor,
        IEventStore store,
        EventStoreSignal signal,
        IProjectionLease lease,
        IProjectionSkipStore skips,
        IOptions<ReadModelBuildOptions> options,
        ProjectionOptions? projectionOptions = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggers = null)
    {
        _monitor = monitor;
        _store = store;
        _signal = signal;
        _lease = lease;
        _skips = skips;
        _options = options.Value;
        _projectionOptions = projectionOptions ?? new ProjectionOptions();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _loggers = loggers ?? NullLoggerFactory.Instance;
        _logger = _loggers.CreateLogger<ReadModelBuilder>();
        _builds = new ProjectionMonitor(_timeProvider);
        monitor.AttachBuilder(this);
    }

    private sealed record Build(IGenerationalProjection Projection, ReadModelGeneration Generation, ProjectionRunner Runner);

    /// <summary>Starts a blue/green rebuild of <paramref name="projection"/>'s read model, giving up a build under way.</summary>
    public async Task<ReadModelGeneration> RebuildAsync(IGenerationalProjection projection, CancellationToken cancellationToken)
    {
        var started = await projection.StartBuildAsync("rebuild asked for by an operator", cancellationToken);
        LogBuildStarted(projection.Name, started.Generation, started.Version, started.Reason);
        Wake();
        return started;
    }

    /// <summary>The generations of <paramref name="projection"/>'s read model still in use (building, serving, retired), oldest first.</summary>
    public async Task<IReadOnlyList<GenerationStatus>> DescribeAsync(IGenerationalProjection projection, CancellationToken cancellationToken)
    {
        var described = new List<GenerationStatus>();
        foreach (var generation in await projection.GenerationsAsync(cancellationToken))
        {
            if (generation.State is GenerationState.Abandoned or GenerationState.Dropped) continue;
            var here = _builds.Find(generation.CheckpointName) is { Active: true } status ? status : null;
            var checkpoint = here?.Checkpoint ?? (generation.State == GenerationState.Retired
                ? null
                : await projection.CheckpointOfAsync(generation, cancellationToken));
            described.Add(new GenerationStatus(generation, checkpoint, here is not null, here?.Failure));
        }
        return described;
    }

    /// <summary>The builds this instance runs that are failing now: each retries its event while the serving generation goes on serving.</summary>
    public IReadOnlyList<FailingBuild> FailingBuilds() =>
    [
        .. _running.Values
            .Select(build => (build, _builds.Find(build.Generation.CheckpointName)?.Failure))
            .Where(b => b.Failure is not null)
            .Select(b => new FailingBuild(b.build.Projection.Name, b.build.Generation, b.Failure!)),
    ];

    /// <summary>
    /// Parks <paramref name="eventId"/> for a build of <paramref name="readModel"/> run here that is failing on it (see
    /// <see cref="ProjectionRunner.SkipAsync"/>); parked under the read model's name, so its serving generation passes over
    /// the event too. Null when no build here is failing on that event.
    /// </summary>
    public async Task<SkipOutcome?> SkipInBuildAsync(string readModel, string eventId, string reason, CancellationToken cancellationToken)
    {
        foreach (var build in _running.Values.Where(b => b.Projection.Name == readModel))
        {
            if (_builds.Find(build.Generation.CheckpointName)?.Failure?.EventId == eventId)
                return await build.Runner.SkipAsync(eventId, reason, cancellationToken);
        }
        return null;
    }

    /// <summary>Whether a build of <paramref name="name"/>'s read model is under way (as last seen here).</summary>
    public bool IsBuilding(string name) => _running.Values.Any(b => b.Projection.Name == name);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var wake = Volatile.Read(ref _wake);
                try
                {
                    foreach (var projection in Generational()) await TendAsync(projection, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    LogTendFailed(e);
                }
                var wait = _running.IsEmpty ? _options.PollInterval : _options.SwitchCheckInterval;
                if (await EventStoreSignal.WaitAsync(wake.Task, wait, _timeProvider, stoppingToken))
                    Interlocked.CompareExchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), wake);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var build in _running.Values) await StopAsync(build);
            _running.Clear();
        }
    }

    private IEnumerable<IGenerationalProjection> Generational() =>
        _monitor.Projections.OfType<IGenerationalProjection>().Where(p => p.ReadModel is not null);

    // Starts builds of this version found in the database, stops those no longer building, switches those caught up, drops old tables.
    private async Task TendAsync(IGenerationalProjection projection, CancellationToken cancellationToken)
    {
        var version = projection.ReadModel!.Version;
        var generations = await projection.GenerationsAsync(cancellationToken);
        var building = generations.Where(g => g.State == GenerationState.Building && g.Version == version).ToArray();
        foreach (var stale in _running.Values.Where(b => b.Projection == projection && !building.Any(g => g.Generation == b.Generation.Generation)))
            await StopAsync(stale);
        foreach (var generation in building.Where(g => !_running.ContainsKey(g.CheckpointName)))
            await StartAsync(projection, generation, cancellationToken);
        var serving = generations.SingleOrDefault(g => g.State == GenerationState.Serving);
        _monitor.Update(projection.Name, s => s with { VersionBuilding = building.Length > 0 && serving is not null && serving.Version != version });

        foreach (var build in _running.Values.Where(b => b.Projection == projection))
        {
            // Only the instance holding the build's lease has a current checkpoint, and switches.
            if (_builds.Find(build.Generation.CheckpointName) is not { Active: true, Failure: null } status) continue;
            // Caught up: at most switch-lag-events behind the head, or read to the head and behind only by what came since
            // (at most a batch: the runner of the serving generation takes it on after the switch, as it would have).
            // Under writes that never pause a build is seldom exactly at the head when looked at, yet it must switch.
            var allowed = status.ReadToHead ? Math.Max(_options.SwitchLagEvents, _projectionOptions.BatchSize) : _options.SwitchLagEvents;
            var lag = await _store.LagAsync(status.Checkpoint, allowed + 1, cancellationToken);
            if (lag.Events > allowed) continue;
            if (await projection.SwitchAsync(build.Generation, cancellationToken))
                LogSwitched(projection.Name, build.Generation.Generation, build.Generation.Version, lag.Events);
            await StopAsync(build);
            _monitor.Update(projection.Name, s => s with { VersionBuilding = false });
            // The runner of the serving generation moves to the new one on its next batch; wake it to take the events since.
            _signal.Notify();
        }
        if (await projection.DropRetiredAsync(_options.RetiredGrace, cancellationToken) is > 0 and var dropped)
            LogDropped(projection.Name, dropped);
    }

    private async Task StartAsync(IGenerationalProjection projection, ReadModelGeneration generation, CancellationToken cancellationToken)
    {
        var runner = new ProjectionRunner(projection.ForGeneration(generation), _store, _signal, _lease, _builds, _projectionOptions,
            _timeProvider, _loggers.CreateLogger<ProjectionRunner>(), new ReadModelSkips(_skips, projection.Name));
        _running[generation.CheckpointName] = new Build(projection, generation, runner);
        await runner.StartAsync(cancellationToken);
        LogBuildRunning(projection.Name, generation.Generation, generation.Version);
    }

    private async Task StopAsync(Build build)
    {
        _running.TryRemove(build.Generation.CheckpointName, out _);
        await build.Runner.StopAsync(CancellationToken.None);
        build.Runner.Dispose();
        _builds.Forget(build.Generation.CheckpointName);
    }

    private void Wake() => Volatile.Read(ref _wake).TrySetResult();

    /// <summary>A build passes over the events parked for its read model, like the serving generation: they are kept under the read model's name.</summary>
    private sealed class ReadModelSkips(IProjectionSkipStore inner, string readModel) : IProjectionSkipStore
    {
        public Task<IReadOnlySet<string>> LoadEventIdsAsync(string projection, CancellationToken cancellationToken) =>
            inner.LoadEventIdsAsync(readModel, cancellationToken);

        public Task<IReadOnlyList<SkippedEvent>> ListAsync(string projection, int limit, CancellationToken cancellationToken) =>
            inner.ListAsync(readModel, limit, cancellationToken);

        public Task<SkippedEvent?> FindAsync(string projection, string eventId, CancellationToken cancellationToken) =>
            inner.FindAsync(readModel, eventId, cancellationToken);

        public Task<bool> AddAsync(SkippedEvent skipped, CancellationToken cancellationToken) =>
            inner.AddAsync(skipped with { Projection = readModel }, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Read model {ReadModel}: generation {Generation} (version {Version}) started building: {Reason}")]
    private partial void LogBuildStarted(string readModel, int generation, int version, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Read model {ReadModel}: building generation {Generation} (version {Version}) when this instance holds its lease")]
    private partial void LogBuildRunning(string readModel, int generation, int version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Read model {ReadModel}: generation {Generation} (version {Version}) serves now ({Lag} event(s) behind at the switch)")]
    private partial void LogSwitched(string readModel, int generation, int version, long lag);

    [LoggerMessage(Level = LogLevel.Information, Message = "Read model {ReadModel}: dropped the tables of {Count} retired generation(s)")]
    private partial void LogDropped(string readModel, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Looking after the read models' builds failed; trying again")]
    private partial void LogTendFailed(Exception exception);
}
