using System.Collections.Concurrent;
using Npgsql;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>Makes sure only one runner at a time (across instances, where the store is shared) runs a projection.</summary>
public interface IProjectionLease
{
    /// <summary>Waits until the lease on <paramref name="projection"/> is ours.</summary>
    Task<ILeaseHandle> AcquireAsync(string projection, CancellationToken cancellationToken);
}

/// <summary>A held lease; <see cref="IsHeld"/> turns false when it was lost (its database session died).</summary>
public interface ILeaseHandle : IAsyncDisposable
{
    bool IsHeld { get; }
}

/// <summary>For stores that only this process uses (memory, SQLite): one runner per projection in the process.</summary>
public sealed class InProcessProjectionLease : IProjectionLease
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new();

    public async Task<ILeaseHandle> AcquireAsync(string projection, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(projection, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        return new Handle(gate);
    }

    private sealed class Handle(SemaphoreSlim gate) : ILeaseHandle
    {
        private int _released;

        public bool IsHeld => Volatile.Read(ref _released) == 0;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) gate.Release();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>
/// A PostgreSQL session-level advisory lock per projection, held on a dedicated connection: released on
/// shutdown, and released by the server when the holder dies, so another instance takes over.
/// </summary>
public sealed class PostgresProjectionLease(string connectionString, TimeSpan retryInterval, TimeSpan healthCheckInterval) : IProjectionLease
{
    private readonly string _connectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;

    public async Task<ILeaseHandle> AcquireAsync(string projection, CancellationToken cancellationToken)
    {
        while (true)
        {
            var connection = new NpgsqlConnection(_connectionString);
            try
            {
                await connection.OpenAsync(cancellationToken);
                await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", connection)
                {
                    Parameters = { new NpgsqlParameter<string> { TypedValue = "orderses.projection:" + projection } },
                };
                if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!)
                    return new Handle(connection, healthCheckInterval);
            }
            catch (NpgsqlException)
            {
                // Database down: keep waiting, the runner reports nothing until the lease is ours.
            }
            await connection.DisposeAsync();
            await Task.Delay(retryInterval, cancellationToken);
        }
    }

    private sealed class Handle : ILeaseHandle
    {
        private readonly NpgsqlConnection _connection;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _watch;
        private volatile bool _held = true;

        public Handle(NpgsqlConnection connection, TimeSpan healthCheckInterval)
        {
            _connection = connection;
            _watch = WatchAsync(healthCheckInterval);
        }

        public bool IsHeld => _held;

        private async Task WatchAsync(TimeSpan interval)
        {
            try
            {
                while (_held)
                {
                    await Task.Delay(interval, _stop.Token);
                    await using var ping = new NpgsqlCommand("SELECT 1", _connection);
                    await ping.ExecuteScalarAsync(_stop.Token);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception)
            {
                _held = false; // the session (and with it the lock) is gone
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _watch;
            _held = false;
            // Closing the unpooled session releases the lock on the server.
            await _connection.DisposeAsync();
            _stop.Dispose();
        }
    }
}
