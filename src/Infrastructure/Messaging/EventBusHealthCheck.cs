using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace OrdersEs.Infrastructure.Messaging;

/// <summary>Readiness of the event bus: Unhealthy while its broker cannot be reached; a bus without a probe (in-process) is Healthy.</summary>
public sealed class EventBusHealthCheck(IEventPublisher publisher, IEventBusProbe? probe = null) : IHealthCheck
{
    public const string Name = "event-bus";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (probe is null)
            return HealthCheckResult.Healthy(publisher is InMemoryEventPublisher ? "in-process event bus" : $"event bus {publisher.GetType().Name} has no probe");
        var (reachable, description) = await probe.ProbeAsync(cancellationToken).ConfigureAwait(false);
        return reachable ? HealthCheckResult.Healthy(description) : new HealthCheckResult(context.Registration.FailureStatus, description);
    }
}
