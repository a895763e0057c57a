using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrdersEs.Infrastructure.Diagnostics;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Messaging;

namespace OrdersEs.Infrastructure.Outbox;

/// <summary>
/// Delivers outbox messages at least once through <see cref="EventSourcingPublisher"/>: claims a batch under a lease,
/// publishes aggregates concurrently but each aggregate's messages in order, and settles each message.
/// </summary>
/// <remarks>
/// <para>A batch's aggregates are spread over <see cref="OutboxOptions.MaxConcurrentPublishes"/> lanes, each aggregate whole
/// in one lane; a lane's messages are published together (<see cref="IEventPublisher.PublishInOrderAsync"/>): on
/// RabbitMQ all in flight on one channel, each aggregate's in sequence order, their confirms awaited together. When the broker refuses
/// one of them (a nack: an internal broker error), the later ones may already be enqueued; they are published again
/// after it, so a consumer may then see a message before an earlier one of its aggregate, and again after it. Consumers
/// that must apply an aggregate's events strictly in order check the <c>sequence</c> header (and de-duplicate by message
/// id, as at-least-once delivery requires anyway).</para>
/// <para>A failed message is retried after an exponential delay with jitter; its aggregate's later messages wait for it.
/// After <see cref="OutboxOptions.MaxAttempts"/> it moves to the dead letters, and the aggregate's following messages are
/// parked (never claimed, by any replica) until an operator retries it (<see cref="IOutboxMonitor.RetryDeadLetterAsync"/>:
/// it goes out first, then they) or skips it (<see cref="IOutboxMonitor.SkipDeadLetterAsync"/>: they go out). Other
/// aggregates keep flowing.</para>
/// <para>When the database fails, or a publish fails and the bus probe says the broker is unreachable, no attempt is
/// counted: the claims are given back and the whole dispatcher backs off exponentially, logging once per step, until
/// a round succeeds.</para>
/// <para>While a full batch (a backlog) is published, the next batch is claimed beside it; that claim passes over the
/// aggregates being published (their messages are claimed), whose later messages a later claim takes.</para>
/// <para>Claims are short (<see cref="OutboxOptions.ClaimLease"/>) and renewed while their round runs, so a dead replica's
/// messages are taken over within a lease and a live one keeps its batch however long it takes. A crash between publishing
/// and marking delivered leaves the claim to expire; the message is then published again (consumers de-duplicate by
/// message id, the event id).</para>
/// </remarks>
public sealed partial class OutboxDispatcher : BackgroundService
{
    private readonly IOutboxStore _store;
    private readonly Func<IReadOnlyList<StoredEventEnvelope>, CancellationToken, Task<PublishOutcome>> _publish;
    private readonly Func<CancellationToken, Task<bool>>? _busReachable;
    private readonly EventStoreSignal _signal;
    private readonly OutboxOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private DateTimeOffset _nextPrune = DateTimeOffset.MinValue;
    // The soonest retry this dispatcher scheduled: it sleeps no longer than that, so retries keep their delays.
    private DateTimeOffset? _earliestRetry;
    // Set once the current round starts settling: from then on its claims go away one by one, and a renewal finding none is expected.
    private volatile bool _settling;
    // The next batch, claimed while the current one is published (see DispatchOnceAsync).
    private Task<ClaimedBatch?>? _ahead;
    // The marking of the last full batch, all of it delivered, running while the next one is published (see DeliverAsync).
    private Task? _marking;

    /// <param name="bus">Asked after a failed publish: unreachable means the broker is down, so the failure is not the message's fault.</param>
    public OutboxDispatcher(
        IOutboxStore store,
        EventSourcingPublisher publisher,
        EventStoreSignal? signal = null,
        OutboxOptions? options = null,
        TimeProvider? timeProvider = null,
        ILogger<OutboxDispatcher>? logger = null,
        IEventBusProbe? bus = null)
        : this(store, (publisher ?? throw new ArgumentNullException(nameof(publisher))).PublishInOrderAsync, signal, options, timeProvider, logger,
            bus is null ? null : async cancellationToken => (await bus.ProbeAsync(cancellationToken).ConfigureAwait(false)).Reachable)
    {
    }

    /// <summary>A dispatcher over a publish function of one envelope at a time (the seed's <see cref="TransactionalOutbox"/>).</summary>
    internal OutboxDispatcher(
        IOutboxStore store,
        Func<StoredEventEnvelope, CancellationToken, Task> publish,
        EventStoreSignal? signal,
        OutboxOptions? options,
        TimeProvider? timeProvider,
        ILogger? logger)
        : this(store, (envelopes, cancellationToken) => PublishOutcome.OneAfterAnotherAsync(envelopes, publish, cancellationToken), signal, options, timeProvider, logger, busReachable: null)
    {
    }

    private OutboxDispatcher(
        IOutboxStore store,
        Func<IReadOnlyList<StoredEventEnvelope>, CancellationToken, Task<PublishOutcome>> publish,
        EventStoreSignal? signal,
        OutboxOptions? options,
        TimeProvider? timeProvider,
        ILogger? logger,
        Func<CancellationToken, Task<bool>>? busReachable)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(publish);
        _store = store;
        _publish = publish;
        _busReachable = busReachable;
        _signal = signal ?? new EventStoreSignal();
        _options = options ?? new OutboxOptions();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        Owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
    }

    /// <summary>This dispatcher's name in <c>claimed_by</c>.</summary>
    public string Owner { get; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RunAsync(stoppingToken);
        }
        finally
        {
            await ReleaseAheadAsync();
            await FinishMarkingAsync(logFailure: true);
        }
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var outages = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var wake = _signal.NextNotification;
                var claimed = await DispatchOnceAsync(stoppingToken);
                if (outages > 0) LogRecovered(outages);
                outages = 0;
                if (claimed > 0) continue;

                var now = _time.GetUtcNow();
                if (now >= _nextPrune)
                {
                    _nextPrune = now + _options.PruneInterval;
                    var pruned = await _store.PruneDeliveredAsync(now - _options.Retention, stoppingToken);
                    if (pruned > 0) LogPruned(pruned);
                }
                var timeout = _options.PollInterval;
                if (_earliestRetry is { } retry)
                {
                    if (retry <= now) _earliestRetry = null;
                    else if (retry - now < timeout) timeout = retry - now;
                }
                // Polling fallback on timeout: a retry came due, or an append was announced nowhere.
                await EventStoreSignal.WaitAsync(wake, timeout, _time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                outages++;
                var delay = Backoff(outages);
                if (outages == 1) LogOutageStarted(e, delay, e.Message);
                else LogOutage(outages, delay, e.Message);
                try
                {
                    await Task.Delay(delay, _time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Publishes and settles one claimed batch; returns how many messages it claimed. While a full batch (more are
    /// waiting) is published, the next one is claimed beside it, so a backlog's claims cost no time of their own: that
    /// claim passes over this batch's aggregates (their messages are claimed), and their later messages wait for the
    /// claim after it, as always.
    /// </summary>
    private async Task<int> DispatchOnceAsync(CancellationToken stoppingToken)
    {
        var ahead = _ahead;
        _ahead = null;
        await using var claimed = ahead is not null ? await ahead : await ClaimAsync(stoppingToken);
        if (claimed is null)
        {
            await FinishMarkingAsync();
            return 0;
        }
        var batch = claimed.Batch;
        using var work = WorkScope.ForEvents(_logger, RoundWork, batch.Select(m => m.Envelope).OfType<StoredEventEnvelope>().ToArray());
        if (batch.Count == _options.BatchSize) _ahead = ClaimAsync(stoppingToken);
        try
        {
            return await DeliverAsync(batch, backlog: _ahead is not null, stoppingToken);
        }
        catch
        {
            // An outage or a stop: the batch claimed ahead is given back, not kept renewed while the dispatcher waits.
            await ReleaseAheadAsync();
            throw;
        }
    }

    /// <summary>Claims a batch and starts renewing its claims; null when nothing is due.</summary>
    private async Task<ClaimedBatch?> ClaimAsync(CancellationToken stoppingToken)
    {
        var batch = await _store.ClaimAsync(Owner, _options.BatchSize, _options.ClaimLease, stoppingToken);
        if (batch.Count == 0) return null;
        // The lease is short so a dead replica's claims are taken over soon; while this one lives, it keeps them until settled.
        var renewing = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        return new ClaimedBatch(batch, renewing, RenewClaimsAsync(batch.Select(m => m.Id).ToArray(), renewing.Token));
    }

    /// <summary>Gives back the batch claimed ahead, if any; never throws (an unreleased claim lapses after its lease).</summary>
    private async Task ReleaseAheadAsync()
    {
        var ahead = _ahead;
        _ahead = null;
        if (ahead is null) return;
        try
        {
            await using var claimed = await ahead;
            if (claimed is null) return;
            await claimed.StopRenewingAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10), _time);
            await _store.ReleaseAsync(Owner, claimed.Batch.Select(m => m.Id).ToArray(), timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Stopped while claiming: the claim's statement did not complete, nothing is held.
        }
        catch (Exception e)
        {
            LogAheadNotReleased(e, e.Message);
        }
    }

    /// <summary>A claimed batch and the renewal of its claims, stopped when disposed.</summary>
    private sealed class ClaimedBatch(IReadOnlyList<OutboxMessage> batch, CancellationTokenSource renewing, Task renewal) : IAsyncDisposable
    {
        public IReadOnlyList<OutboxMessage> Batch => batch;

        public async Task StopRenewingAsync()
        {
            await renewing.CancelAsync();
            await renewal;
        }

        public async ValueTask DisposeAsync()
        {
            await StopRenewingAsync();
            renewing.Dispose();
        }
    }

    /// <summary>Renews the round's claims every <see cref="OutboxOptions.ClaimRenewInterval"/> until cancelled; never throws.</summary>
    private async Task RenewClaimsAsync(long[] ids, CancellationToken cancellationToken)
    {
        var warned = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // Cancelled at the end of every round: no exception thrown for that (rounds follow each other quickly).
                await Task.Delay(_options.ClaimRenewInterval, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (cancellationToken.IsCancellationRequested) return;
                var renewed = await _store.RenewClaimsAsync(Owner, ids, _options.ClaimLease, cancellationToken);
                // None while the round still publishes means the lease ran out before this renewal (a long pause).
                if (renewed == 0 && !warned && !_settling)
                {
                    warned = true;
                    LogClaimsLost(ids.Length, _options.ClaimLease);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The round's own settling reports a database outage; a claim that lapses is delivered again by another replica.
                LogRenewalFailed(e, e.Message);
            }
        }
    }

    /// <summary>
    /// Publishes the batch and settles it. In a backlog (the next batch is claimed already), a round that delivered its
    /// whole batch leaves the marking running while the next round publishes, which awaits it before its own settling:
    /// a marking costs no time of its own either. Until it completes, those aggregates stay claimed (for the rest of the
    /// lease, which is no longer renewed), so a claim in the meantime passes over their later messages, as while they
    /// were published; a failure surfaces in the next round.
    /// </summary>
    private async Task<int> DeliverAsync(IReadOnlyList<OutboxMessage> batch, bool backlog, CancellationToken stoppingToken)
    {
        _settling = false;
        var round = new Round(_busReachable);
        var lanes = Lanes(batch, _options.MaxConcurrentPublishes);
        try
        {
            // Every lane starts here, one after the other up to its first wait, so the batch's publishes are all queued
            // at once (Parallel.ForEachAsync would start them from thread-pool workers as those come free).
            await Task.WhenAll(lanes.Select(lane => PublishInOrderAsync(lane, round, stoppingToken).AsTask()));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: settle what is known below; what a lane left unsettled (its bus probe was cancelled) is given back.
            var settledIds = round.Delivered.Concat(round.Failed.Select(f => f.Message.Id)).Concat(round.Untried).ToHashSet();
            foreach (var message in batch)
                if (!settledIds.Contains(message.Id)) round.Untried.Add(message.Id);
        }

        // Settling must survive a stop request: an unrecorded delivery is published again, an unreleased claim waits out its lease.
        _settling = true;
        await FinishMarkingAsync();
        var delivered = round.Delivered.ToArray();
        if (delivered.Length == batch.Count && backlog && !stoppingToken.IsCancellationRequested)
        {
            _marking = MarkDeliveredAsync(delivered);
            return batch.Count;
        }
        if (delivered.Length > 0) await MarkDeliveredAsync(delivered);
        using var settling = new CancellationTokenSource(SettleTimeout, _time);
        var token = settling.Token;
        if (round.BusDown)
        {
            await _store.ReleaseAsync(Owner, [.. round.Untried, .. round.Failed.Select(f => f.Message.Id)], token);
            var first = round.Failed.FirstOrDefault();
            throw new EventPublishException($"The event bus is unreachable: {first.Error?.Message}", first.Error);
        }

        foreach (var (message, error) in round.Failed)
        {
            var attempts = message.Attempts + 1;
            var reason = error is not null ? Describe(error)
                : message.Unreadable ?? $"The event {message.EventId} is no longer in pyfly_event_store.";
            if (attempts >= _options.MaxAttempts || message.Envelope is null)
            {
                await _store.DeadLetterAsync(Owner, message.Id, reason, token);
                OrdersEsTelemetry.RecordOutboxDeadLetter();
                using (MessageScope(message)) LogDeadLettered(error, message.EventId, message.AggregateId, message.Sequence, attempts);
                continue;
            }
            var delay = RetryDelay(attempts);
            var retryAt = _time.GetUtcNow() + delay;
            await _store.RetryLaterAsync(Owner, message.Id, reason, retryAt, token);
            if (_earliestRetry is null || retryAt < _earliestRetry) _earliestRetry = retryAt;
            using (MessageScope(message)) LogRetry(message.EventId, message.AggregateId, attempts, delay, reason);
        }
        // Released only now, after the dead letters are written: an aggregate's later messages given back untried are
        // either still claimed (so nobody takes them) or parked behind the dead letter, never free in between.
        if (!round.Untried.IsEmpty) await _store.ReleaseAsync(Owner, round.Untried.ToArray(), token);
        stoppingToken.ThrowIfCancellationRequested();
        return batch.Count;
    }

    private const string RoundWork = "outbox dispatch";

    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(10);

    private async Task MarkDeliveredAsync(long[] ids)
    {
        using var settling = new CancellationTokenSource(SettleTimeout, _time);
        await _store.MarkDeliveredAsync(ids, settling.Token);
    }

    /// <summary>Awaits the marking left running by the last round, if any (see <see cref="DeliverAsync"/>).</summary>
    private async Task FinishMarkingAsync(bool logFailure = false)
    {
        var marking = _marking;
        _marking = null;
        if (marking is null) return;
        try
        {
            await marking;
        }
        catch (Exception e) when (logFailure)
        {
            // Stopping: the claims of those messages lapse, and they are published again (at least once).
            LogMarkingFailed(e, e.Message);
        }
    }

    // A failing message's own log lines carry its event's correlation id.
    private WorkScope? MessageScope(OutboxMessage message) =>
        message.Envelope is null ? null : WorkScope.ForEvent(_logger, RoundWork, message.Envelope);

    /// <summary>
    /// Spreads the batch's aggregates over at most <paramref name="count"/> lanes, each aggregate whole and in sequence
    /// order within one lane, the lanes about even in messages.
    /// </summary>
    private static OutboxMessage[][] Lanes(IReadOnlyList<OutboxMessage> batch, int count)
    {
        var aggregates = batch.GroupBy(m => m.AggregateId, StringComparer.Ordinal)
            .Select(g => g.OrderBy(m => m.Sequence).ToArray())
            .OrderByDescending(g => g.Length)
            .ToArray();
        var lanes = new List<OutboxMessage>[Math.Min(count, aggregates.Length)];
        for (var i = 0; i < lanes.Length; i++) lanes[i] = [];
        // Largest first, each to the lane with the fewest messages so far.
        foreach (var aggregate in aggregates) lanes.MinBy(lane => lane.Count)!.AddRange(aggregate);
        return lanes.Select(lane => lane.ToArray()).ToArray();
    }

    // A lane's messages go out together, in order; from the first that is not accepted on, none counts as delivered
    // (other aggregates' later messages of the lane are given back untried and go out in the next round).
    private async ValueTask PublishInOrderAsync(OutboxMessage[] lane, Round round, CancellationToken cancellationToken)
    {
        if (round.BusDown || cancellationToken.IsCancellationRequested)
        {
            GiveBack(lane, 0, round);
            return;
        }
        // An unreadable message (no envelope) fails where it stands: the ones before it go out, the ones after wait.
        var readable = Array.FindIndex(lane, m => m.Envelope is null) is var unreadable and >= 0 ? unreadable : lane.Length;
        PublishOutcome outcome;
        try
        {
            outcome = readable == 0 ? new PublishOutcome(0, null)
                : await _publish(lane.Take(readable).Select(m => m.Envelope!).ToArray(), cancellationToken);
        }
        catch (Exception e)
        {
            // A bus that throws instead of telling its outcome: nothing is known to be accepted.
            outcome = new PublishOutcome(0, e);
        }
        for (var i = 0; i < outcome.Accepted; i++)
        {
            round.Delivered.Add(lane[i].Id);
            OrdersEsTelemetry.RecordOutboxDelivery(_time.GetUtcNow() - lane[i].Envelope!.OccurredAt);
        }
        var next = outcome.Accepted;
        if (next == lane.Length) return;
        if (outcome.Error is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            // Stopping mid-publish: whether the broker got it is unknown, so it goes out again (at least once).
            GiveBack(lane, next, round);
            return;
        }
        round.Failed.Enqueue((lane[next], outcome.Error));
        GiveBack(lane, next + 1, round);
        if (outcome.Error is not null && !await round.IsBusReachableAsync(cancellationToken)) round.BusDown = true;
    }

    /// <summary>The messages of an error and its causes, for operators: the root cause is usually the useful part.</summary>
    private static string Describe(Exception error)
    {
        var reasons = new List<string>();
        for (var e = error; e is not null && reasons.Count < 4; e = e.InnerException) reasons.Add(e.Message);
        return string.Join(" <- ", reasons);
    }

    private static void GiveBack(OutboxMessage[] lane, int from, Round round)
    {
        for (var j = from; j < lane.Length; j++) round.Untried.Add(lane[j].Id);
    }

    /// <summary>Exponential from <see cref="OutboxOptions.InitialRetryDelay"/>, capped, with "equal jitter": between half and all of it.</summary>
    private TimeSpan RetryDelay(int attempts)
    {
        var capped = Backoff(attempts);
        return capped / 2 + capped / 2 * Random.Shared.NextDouble();
    }

    private TimeSpan Backoff(int step)
    {
        var exponential = _options.InitialRetryDelay * Math.Pow(2, Math.Min(step - 1, 30));
        return exponential < _options.MaxRetryDelay ? exponential : _options.MaxRetryDelay;
    }

    /// <summary>What became of one batch; filled concurrently by the aggregates' publishing loops.</summary>
    private sealed class Round(Func<CancellationToken, Task<bool>>? busReachable)
    {
        private Task<bool>? _busCheck;
        private volatile bool _busDown;

        public ConcurrentBag<long> Delivered { get; } = [];
        public ConcurrentQueue<(OutboxMessage Message, Exception? Error)> Failed { get; } = new();
        public ConcurrentBag<long> Untried { get; } = [];

        public bool BusDown
        {
            get => _busDown;
            set => _busDown = value;
        }

        /// <summary>Probes the bus once per round, at the first failure; without a probe every failure is the message's.</summary>
        public Task<bool> IsBusReachableAsync(CancellationToken cancellationToken)
        {
            if (busReachable is null) return Task.FromResult(true);
            var check = Volatile.Read(ref _busCheck);
            if (check is not null) return check;
            Interlocked.CompareExchange(ref _busCheck, busReachable(cancellationToken), null);
            return _busCheck!;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox dispatch paused: {Reason}; retrying in {Delay}")]
    private partial void LogOutageStarted(Exception exception, TimeSpan delay, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox dispatch still paused after {Attempts} attempts: {Reason}; retrying in {Delay}")]
    private partial void LogOutage(int attempts, TimeSpan delay, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox dispatch resumed after {Attempts} failed attempts")]
    private partial void LogRecovered(int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing event {EventId} of {AggregateId} failed (attempt {Attempt}); retrying in {Delay}: {Reason}")]
    private partial void LogRetry(string eventId, string aggregateId, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Event {EventId} ({AggregateId} #{Sequence}) moved to the outbox dead letters after {Attempts} attempts")]
    private partial void LogDeadLettered(Exception? exception, string eventId, string aggregateId, int sequence, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox claims of a round ({Count} messages) had run out before renewal (lease {Lease}): another instance may deliver them too")]
    private partial void LogClaimsLost(int count, TimeSpan lease);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Renewing outbox claims failed: {Reason}")]
    private partial void LogRenewalFailed(Exception exception, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Giving back the outbox batch claimed ahead failed: {Reason}; its claims lapse after their lease")]
    private partial void LogAheadNotReleased(Exception exception, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Marking the last outbox batch delivered failed while stopping: {Reason}; its messages go out again after their claims' lease")]
    private partial void LogMarkingFailed(Exception exception, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pruned {Count} delivered outbox messages")]
    private partial void LogPruned(int count);
}
