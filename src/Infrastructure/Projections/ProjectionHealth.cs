using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>When a failing or lagging projection makes readiness degraded, bound from <c>pyfly:eventsourcing:projections</c>.</summary>
public sealed class ProjectionHealthOptions
{
    public const string SectionKey = "pyfly:eventsourcing:projections";
    public const string FailingDegradedAfterKey = SectionKey + ":failing-degraded-after";
    public const string LagDegradedEventsKey = SectionKey + ":lag-degraded-events";
    public const string LagDegradedAfterKey = SectionKey + ":lag-degraded-after";

    /// <summary>How long a projection may keep failing (retrying one event) before <c>/health/ready</c> reports it degraded.</summary>
    [ConfigurationKeyName("failing-degraded-after")]
    public TimeSpan FailingDegradedAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How many events a projection may be behind the store's head before <c>/health/ready</c> reports it degraded.</summary>
    [ConfigurationKeyName("lag-degraded-events")]
    public int LagDegradedEvents { get; set; } = 10_000;

    /// <summary>How long the oldest event a projection has not applied may wait before <c>/health/ready</c> reports it degraded.</summary>
    [ConfigurationKeyName("lag-degraded-after")]
    public TimeSpan LagDegradedAfter { get; set; } = TimeSpan.FromSeconds(60);
}

/// <summary>Rejects a threshold that is not positive, naming the key.</summary>
internal sealed class ProjectionHealthOptionsValidator : IValidateOptions<ProjectionHealthOptions>
{
    public ValidateOptionsResult Validate(string? name, ProjectionHealthOptions options)
    {
        var errors = new List<string>();
        if (options.FailingDegradedAfter <= TimeSpan.Zero) errors.Add(NotADuration(ProjectionHealthOptions.FailingDegradedAfterKey, options.FailingDegradedAfter));
        if (options.LagDegradedAfter <= TimeSpan.Zero) errors.Add(NotADuration(ProjectionHealthOptions.LagDegradedAfterKey, options.LagDegradedAfter));
        if (options.LagDegradedEvents is <= 0 or >= int.MaxValue)
            errors.Add($"Configuration key '{ProjectionHealthOptions.LagDegradedEventsKey}' has the value '{options.LagDegradedEvents}'; expected a positive number of events such as 10000.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static string NotADuration(string key, TimeSpan value) =>
        $"Configuration key '{key}' has the value '{value}'; expected a positive duration such as 00:01:00.";
}

/// <summary>
/// Readiness of the projections this instance runs: Degraded (still 200, so the instance keeps serving) once one has
/// been failing on the same place for <see cref="ProjectionHealthOptions.FailingDegradedAfter"/>, naming it and its event,
/// or is behind the store's head by more than <see cref="ProjectionHealthOptions.LagDegradedEvents"/> events or by an
/// oldest unapplied event older than <see cref="ProjectionHealthOptions.LagDegradedAfter"/>, measured each time from
/// its durable checkpoint (so also where another replica runs it). A projection rebuilding from the first event, or
/// whose read model has a generation of a new version being built, is behind by design: its lag does not count until it has caught up.
/// A blue/green build this instance runs is Degraded like a projection once it has been failing that long: it would never switch in.
/// </summary>
public sealed class ProjectionHealthCheck(ProjectionMonitor monitor, IEventStore store, IOptions<ProjectionHealthOptions> options, TimeProvider timeProvider)
    : IHealthCheck
{
    public const string Name = "projections";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var now = timeProvider.GetUtcNow();
        var settings = options.Value;
        var problems = new List<string>();
        var data = new Dictionary<string, object>();
        var statuses = monitor.Statuses;
        foreach (var status in statuses)
        {
            if (status.Failure is { } failure && now - failure.FailingSince >= settings.FailingDegradedAfter)
            {
                problems.Add(DescribeFailure($"Projection '{status.Name}'", failure, now));
                data[status.Name] = failure;
                continue;
            }
            if (status.Rebuilding || status.VersionBuilding || await monitor.CurrentAsync(status.Name, cancellationToken) is not { } current) continue;
            var lag = await store.LagAsync(current.Checkpoint, settings.LagDegradedEvents + 1, cancellationToken);
            var age = lag.Age(now);
            if (lag.Events > settings.LagDegradedEvents || age > settings.LagDegradedAfter)
            {
                problems.Add(DescribeLag(status.Name, lag, age, settings));
                data[status.Name] = new { lagEvents = lag.Events, lagCapped = lag.Events > settings.LagDegradedEvents, oldestUnappliedAt = lag.OldestAt };
            }
        }
        // A build that keeps failing never switches in: with a new version deployed, the serving generation waits for it.
        foreach (var build in monitor.Builder?.FailingBuilds() ?? [])
        {
            if (now - build.Failure.FailingSince < settings.FailingDegradedAfter) continue;
            var generation = build.Generation;
            problems.Add(DescribeFailure(
                $"The build of read model '{build.ReadModel}' (generation {generation.Generation}, version {generation.Version})", build.Failure, now));
            data[generation.CheckpointName] = build.Failure;
        }
        return problems.Count == 0
            ? HealthCheckResult.Healthy($"{statuses.Count} projection(s), none failing for {settings.FailingDegradedAfter} or longer, " +
                $"none more than {settings.LagDegradedEvents} events or {settings.LagDegradedAfter} behind")
            : HealthCheckResult.Degraded(string.Join(" ", problems), data: data);
    }

    private static string DescribeFailure(string subject, ProjectionFailure failure, DateTimeOffset now)
    {
        var seconds = ((long)(now - failure.FailingSince).TotalSeconds).ToString(CultureInfo.InvariantCulture);
        var where = failure.EventId is null
            ? "before reading its next event"
            : $"on event {failure.EventId} ({failure.EventType} at position {failure.Checkpoint})";
        return $"{subject} has been failing for {seconds} s {where}, {failure.Attempts} attempt(s): {failure.Error}.";
    }

    private static string DescribeLag(string projection, EventLag lag, TimeSpan age, ProjectionHealthOptions settings)
    {
        var events = lag.Events > settings.LagDegradedEvents
            ? $"more than {settings.LagDegradedEvents.ToString(CultureInfo.InvariantCulture)} events"
            : $"{lag.Events.ToString(CultureInfo.InvariantCulture)} event(s)";
        var seconds = ((long)age.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        return $"Projection '{projection}' is {events} behind the store's head; its oldest unapplied event has waited {seconds} s " +
            $"(degraded above {settings.LagDegradedEvents} events or {settings.LagDegradedAfter}).";
    }
}
