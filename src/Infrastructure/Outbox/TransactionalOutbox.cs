using Microsoft.Extensions.Logging;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Infrastructure.Outbox;

/// <summary>
/// The seed's stand-alone outbox: envelopes enqueued in memory and published by a background loop, at least once,
/// retried with backoff and dead-lettered after <c>maxAttempts</c>. The service itself uses the durable outbox
/// (<see cref="OutboxDispatcher"/> over the event store's outbox table) instead.
/// </summary>
/// <example><code>
/// await using var outbox = new TransactionalOutbox(publish, maxAttempts: 5);
/// await outbox.StartAsync();
/// await outbox.EnqueueAsync(envelope);
/// </code></example>
public sealed class TransactionalOutbox : IAsyncDisposable
{
    private readonly InMemoryOutbox _outbox;
    private readonly EventStoreSignal _signal = new();
    private readonly OutboxDispatcher _dispatcher;
    private bool _disposed;

    public TransactionalOutbox(
        Func<StoredEventEnvelope, CancellationToken, Task> publish,
        int maxAttempts = 5,
        OutboxOptions? options = null,
        TimeProvider? timeProvider = null,
        ILogger<TransactionalOutbox>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(publish);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxAttempts);
        var settings = options ?? new OutboxOptions();
        _outbox = new InMemoryOutbox(timeProvider);
        _dispatcher = new OutboxDispatcher(_outbox, publish, _signal,
            new OutboxOptions
            {
                MaxAttempts = maxAttempts,
                BatchSize = settings.BatchSize,
                MaxConcurrentPublishes = settings.MaxConcurrentPublishes,
                ClaimLease = settings.ClaimLease,
                ClaimRenewInterval = settings.ClaimRenewInterval,
                PollInterval = settings.PollInterval,
                InitialRetryDelay = settings.InitialRetryDelay,
                MaxRetryDelay = settings.MaxRetryDelay,
                Retention = settings.Retention,
                PruneInterval = settings.PruneInterval,
            },
            timeProvider, logger);
    }

    /// <summary>The seed's <c>publish(envelope)</c> without a cancellation token.</summary>
    public TransactionalOutbox(Func<StoredEventEnvelope, Task> publish, int maxAttempts = 5, OutboxOptions? options = null,
        TimeProvider? timeProvider = null, ILogger<TransactionalOutbox>? logger = null)
        : this((envelope, _) => publish(envelope), maxAttempts, options, timeProvider, logger)
    {
        ArgumentNullException.ThrowIfNull(publish);
    }

    /// <summary>Counts and dead letters of this outbox; a dead letter can be put back for delivery.</summary>
    public IOutboxMonitor Monitor => _outbox;

    /// <summary>Starts the background publishing loop.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _dispatcher.StartAsync(cancellationToken);
    }

    /// <summary>Queues an envelope for publishing (once per event id) and wakes the loop.</summary>
    public Task EnqueueAsync(StoredEventEnvelope envelope, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (_outbox.Add(envelope)) _signal.Notify();
        return Task.CompletedTask;
    }

    /// <summary>Stops the loop after the current batch is settled; undelivered envelopes stay queued.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _dispatcher.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        await _dispatcher.StopAsync(CancellationToken.None);
        _dispatcher.Dispose();
    }
}
