using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace OrdersEs.Infrastructure.Configuration;

/// <summary>Logs, once at start-up, which stores event sourcing runs on; connections appear with their passwords masked.</summary>
internal sealed class EventSourcingStartupLog(EventSourcingSettings settings, ILogger<EventSourcingStartupLog> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        logger.LogInformation("Event sourcing enabled: events in {EventStore}, snapshots in {SnapshotStore} every {SnapshotInterval} events",
            settings.Store.ToString(), settings.Snapshot.ToString(), settings.Repository.SnapshotInterval);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
