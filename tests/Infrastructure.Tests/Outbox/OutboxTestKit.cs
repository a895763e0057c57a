using System.Diagnostics;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Messaging;
using OrdersEs.Infrastructure.Outbox;

namespace OrdersEs.Infrastructure.Tests.Outbox;

/// <summary>One publish the <see cref="RecordingPublisher"/> saw.</summary>
public sealed record Delivery(string EventId, string AggregateId, int Sequence, TimeSpan At);

/// <summary>
/// An event bus that records every publish (successful or not), fails where <c>failWhen</c> says so, and notes
/// when two messages of one aggregate were being published at the same time.
/// </summary>
public sealed class RecordingPublisher(Func<EventMessage, int, bool>? failWhen = null, TimeSpan? latency = null) : IEventPublisher
{
    private readonly Lock _gate = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<Delivery> _delivered = [];
    private readonly List<Delivery> _attempts = [];
    private readonly HashSet<string> _inFlight = [];

    public List<string> ConcurrentPublishesOfOneAggregate { get; } = [];

    public IReadOnlyList<Delivery> Delivered
    {
        get { lock (_gate) return _delivered.ToArray(); }
    }

    public IReadOnlyList<Delivery> Attempts
    {
        get { lock (_gate) return _attempts.ToArray(); }
    }

    public async Task PublishAsync(EventMessage message, CancellationToken cancellationToken = default)
    {
        var aggregateId = message.Headers[EventSourcingPublisher.Headers.AggregateId];
        var delivery = new Delivery(message.MessageId, aggregateId, int.Parse(message.Headers[EventSourcingPublisher.Headers.Sequence]), _clock.Elapsed);
        int attempt;
        lock (_gate)
        {
            _attempts.Add(delivery);
            attempt = _attempts.Count(a => a.EventId == message.MessageId);
            if (!_inFlight.Add(aggregateId)) ConcurrentPublishesOfOneAggregate.Add(aggregateId);
        }
        try
        {
            if (latency is { } delay) await Task.Delay(Random.Shared.Next(0, (int)delay.TotalMilliseconds + 1), cancellationToken);
            if (failWhen?.Invoke(message, attempt) == true) throw new EventPublishException($"refused {message.MessageId} (attempt {attempt})");
            lock (_gate) _delivered.Add(delivery with { At = _clock.Elapsed });
        }
        finally
        {
            lock (_gate) _inFlight.Remove(aggregateId);
        }
    }
}

/// <summary>An outbox store passing every call to <paramref name="inner"/>: a test overrides the calls it changes or watches.</summary>
public abstract class DelegatingOutboxStore(IOutboxStore inner) : IOutboxStore
{
    public virtual Task<IReadOnlyList<OutboxMessage>> ClaimAsync(string owner, int batchSize, TimeSpan lease, CancellationToken cancellationToken) =>
        inner.ClaimAsync(owner, batchSize, lease, cancellationToken);

    public virtual Task MarkDeliveredAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken) =>
        inner.MarkDeliveredAsync(ids, cancellationToken);

    public virtual Task<int> RenewClaimsAsync(string owner, IReadOnlyCollection<long> ids, TimeSpan lease, CancellationToken cancellationToken) =>
        inner.RenewClaimsAsync(owner, ids, lease, cancellationToken);

    public virtual Task RetryLaterAsync(string owner, long id, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken) =>
        inner.RetryLaterAsync(owner, id, error, nextAttemptAt, cancellationToken);

    public virtual Task DeadLetterAsync(string owner, long id, string error, CancellationToken cancellationToken) =>
        inner.DeadLetterAsync(owner, id, error, cancellationToken);

    public virtual Task ReleaseAsync(string owner, IReadOnlyCollection<long> ids, CancellationToken cancellationToken) =>
        inner.ReleaseAsync(owner, ids, cancellationToken);

    public virtual Task<int> PruneDeliveredAsync(DateTimeOffset deliveredBefore, CancellationToken cancellationToken) =>
        inner.PruneDeliveredAsync(deliveredBefore, cancellationToken);
}

/// <summary>A running dispatcher that a test owns: disposing stops it.</summary>
public sealed class RunningDispatcher(OutboxDispatcher dispatcher) : IAsyncDisposable
{
    public OutboxDispatcher Dispatcher { get; } = dispatcher;

    public static async Task<RunningDispatcher> StartAsync(
        IOutboxStore store, IEventPublisher bus, EventStoreSignal signal, OutboxOptions options, Func<CancellationToken, Task<bool>>? busReachable = null,
        string destination = "orderses.test.outbox")
    {
        var dispatcher = new OutboxDispatcher(store, new EventSourcingPublisher(bus, destination), signal, options,
            bus: busReachable is null ? null : new TestProbe(busReachable));
        await dispatcher.StartAsync(CancellationToken.None);
        return new RunningDispatcher(dispatcher);
    }

    private sealed class TestProbe(Func<CancellationToken, Task<bool>> reachable) : IEventBusProbe
    {
        public async Task<(bool Reachable, string Description)> ProbeAsync(CancellationToken cancellationToken = default) =>
            (await reachable(cancellationToken), "the test's probe");
    }

    public async ValueTask DisposeAsync()
    {
        await Dispatcher.StopAsync(CancellationToken.None);
        Dispatcher.Dispose();
    }
}

public static class OutboxTestKit
{
    public static ThingHappened[] Things(int count) => Enumerable.Range(1, count).Select(i => new ThingHappened("t", i)).ToArray();

    /// <summary>Millisecond delays so the suite stays fast.</summary>
    public static OutboxOptions FastOptions(int maxAttempts = 5) => new()
    {
        MaxAttempts = maxAttempts,
        BatchSize = 50,
        ClaimLease = TimeSpan.FromSeconds(10),
        PollInterval = TimeSpan.FromMilliseconds(50),
        InitialRetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(400),
        Retention = TimeSpan.FromHours(1),
        PruneInterval = TimeSpan.FromMilliseconds(50),
    };

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > (timeout ?? TimeSpan.FromSeconds(15))) throw new Xunit.Sdk.XunitException($"Timed out waiting for: {what}");
            await Task.Delay(20);
        }
    }

    public static Task EventuallyAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        EventuallyAsync(() => Task.FromResult(condition()), what, timeout);
}
