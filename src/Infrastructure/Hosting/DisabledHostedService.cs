using Microsoft.Extensions.Hosting;

namespace OrdersEs.Infrastructure.Hosting;

/// <summary>
/// Stands in for background work the configuration turns off (no event bus: no outbox dispatcher; no shared PostgreSQL:
/// no LISTEN/NOTIFY), so a registration decided when the host starts can always return a hosted service.
/// </summary>
public sealed class DisabledHostedService : IHostedService
{
    public static readonly DisabledHostedService Instance = new();

    private DisabledHostedService()
    {
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
