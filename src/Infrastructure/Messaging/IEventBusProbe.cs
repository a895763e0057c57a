namespace OrdersEs.Infrastructure.Messaging;

/// <summary>
/// A bus that can tell whether its broker answers now: asked by readiness, and by the outbox dispatcher after a failed
/// publish (a broker that is down is not the message's fault). An in-process bus has no probe.
/// </summary>
public interface IEventBusProbe
{
    /// <summary>Whether the broker is reachable now, and what was seen; never throws but on cancellation.</summary>
    Task<(bool Reachable, string Description)> ProbeAsync(CancellationToken cancellationToken = default);
}
