using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace OrdersEs.Infrastructure.Messaging;

/// <summary>Readiness of the event bus: Unhealthy while the RabbitMQ broker cannot be reached; the in-process bus is always Healthy.</summary>
public sealed class EventBusHealthCheck(IEventPublisher publisher) : IHealthCheck
{
    public const string Name = "event-bus";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        switch (publisher)
        {
            case RabbitMqEventPublisher rabbit:
                var (reachable, description) = await rabbit.ProbeAsync(cancellationToken).ConfigureAwait(false);
                return reachable
                    ? HealthCheckResult.Healthy(description)
                    : new HealthCheckResult(context.Registration.FailureStatus, description);
            case InMemoryEventPublisher:
                return HealthCheckResult.Healthy("in-process event bus");
            default:
                return HealthCheckResult.Healthy($"event bus {publisher.GetType().Name} has no probe");
        }
    }
}
