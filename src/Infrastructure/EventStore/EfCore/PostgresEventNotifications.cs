using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace OrdersEs.Infrastructure.EventStore.EfCore;

/// <summary>
/// Carries append wake-ups between instances sharing a PostgreSQL store: after local appends it sends one
/// <c>NOTIFY</c> (coalescing bursts, and outside the append transaction so commits never queue on the
/// notification lock), and it <c>LISTEN</c>s for other instances' notifications to wake local runners.
/// Writers that do not notify (a pyfly service) are still picked up by the runners' polling fallback.
/// </summary>
public sealed partial class PostgresEventNotifications(
    string connectionString, EventStoreSignal signal, ILogger<PostgresEventNotifications> logger) : BackgroundService
{
    public const string Channel = "orderses_events";

    private readonly string _connectionString =
        new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, KeepAlive = 30 }.ConnectionString;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(RetryForeverAsync(ListenAsync, stoppingToken), RetryForeverAsync(SendAsync, stoppingToken));

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(stoppingToken);
        connection.Notification += (_, _) => signal.Notify();
        await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
            await listen.ExecuteNonQueryAsync(stoppingToken);
        // Events committed while we were not listening are found by the next read anyway.
        signal.Notify();
        while (!stoppingToken.IsCancellationRequested)
            await connection.WaitAsync(stoppingToken);
    }

    private async Task SendAsync(CancellationToken stoppingToken)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(stoppingToken);
        await using var notify = new NpgsqlCommand($"NOTIFY {Channel}", connection);
        var append = signal.NextLocalAppend;
        while (!stoppingToken.IsCancellationRequested)
        {
            await append.WaitAsync(stoppingToken);
            // Taken before notifying: an append during the NOTIFY gets a NOTIFY of its own.
            append = signal.NextLocalAppend;
            await notify.ExecuteNonQueryAsync(stoppingToken);
        }
    }

    private async Task RetryForeverAsync(Func<CancellationToken, Task> loop, CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await loop(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or IOException)
            {
                LogDisconnected(delay, e.Message);
                await Task.Delay(delay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL notifications interrupted; reconnecting in {Delay} ({Reason})")]
    private partial void LogDisconnected(TimeSpan delay, string reason);
}
