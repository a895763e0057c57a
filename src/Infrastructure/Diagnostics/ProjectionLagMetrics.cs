using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using OrdersEs.Infrastructure.Projections;

namespace OrdersEs.Infrastructure.Diagnostics;

/// <summary>
/// The <c>orderses.projection.lag</c> gauge: per projection run here, the events this process appended past its
/// checkpoint. Observing it reads memory only (no query); <c>GET /admin/projections</c> counts the exact lag.
/// </summary>
public sealed class ProjectionLagMetrics(IMeterFactory meterFactory, ProjectionMonitor monitor) : IHostedService
{
    private Meter? _meter;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _meter = meterFactory.Create(OrdersEsTelemetry.Name);
        _meter.CreateObservableGauge("orderses.projection.lag", Observe, "{event}",
            "Events appended by this process that a projection has not applied yet.");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private IEnumerable<Measurement<long>> Observe()
    {
        var head = OrdersEsTelemetry.HighestAppendedPosition;
        foreach (var status in monitor.Statuses)
            yield return new Measurement<long>(Math.Max(0, head - status.Checkpoint.Position),
                new KeyValuePair<string, object?>("projection", status.Name));
    }
}
