using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>When a failing projection makes readiness degraded, bound from <c>pyfly:eventsourcing:projections</c>.</summary>
public sealed class ProjectionHealthOptions
{
    public const string SectionKey = "pyfly:eventsourcing:projections";
    public const string FailingDegradedAfterKey = SectionKey + ":failing-degraded-after";

    /// <summary>How long a projection may keep failing (retrying one event) before <c>/health/ready</c> reports it degraded.</summary>
    [ConfigurationKeyName("failing-degraded-after")]
    public TimeSpan FailingDegradedAfter { get; set; } = TimeSpan.FromSeconds(60);
}

/// <summary>Rejects a threshold that is not a positive duration, naming the key.</summary>
internal sealed class ProjectionHealthOptionsValidator : IValidateOptions<ProjectionHealthOptions>
{
    public ValidateOptionsResult Validate(string? name, ProjectionHealthOptions options) =>
        options.FailingDegradedAfter > TimeSpan.Zero
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"Configuration key '{ProjectionHealthOptions.FailingDegradedAfterKey}' has the value '{options.FailingDegradedAfter}'; " +
                "expected a positive duration such as 00:01:00.");
}

/// <summary>
/// Readiness of the projections this instance runs: Degraded (still 200, so the instance keeps serving) once one has
/// been failing on the same place for <see cref="ProjectionHealthOptions.FailingDegradedAfter"/>, naming it and its event.
/// </summary>
public sealed class ProjectionHealthCheck(ProjectionMonitor monitor, IOptions<ProjectionHealthOptions> options, TimeProvider timeProvider) : IHealthCheck
{
    public const string Name = "projections";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var now = timeProvider.GetUtcNow();
        var threshold = options.Value.FailingDegradedAfter;
        var stuck = monitor.Statuses
            .Where(s => s.Failure is { } failure && now - failure.FailingSince >= threshold)
            .ToArray();
        if (stuck.Length == 0)
            return Task.FromResult(HealthCheckResult.Healthy($"{monitor.Statuses.Count} projection(s), none failing for {threshold} or longer"));

        var data = stuck.ToDictionary(s => s.Name, s => (object)s.Failure!);
        return Task.FromResult(HealthCheckResult.Degraded(string.Join(" ", stuck.Select(s => Describe(s.Name, s.Failure!, now))), data: data));
    }

    private static string Describe(string projection, ProjectionFailure failure, DateTimeOffset now)
    {
        var seconds = ((long)(now - failure.FailingSince).TotalSeconds).ToString(CultureInfo.InvariantCulture);
        var where = failure.EventId is null
            ? "before reading its next event"
            : $"on event {failure.EventId} ({failure.EventType} at position {failure.Checkpoint})";
        return $"Projection '{projection}' has been failing for {seconds} s {where}, {failure.Attempts} attempt(s): {failure.Error}.";
    }
}
