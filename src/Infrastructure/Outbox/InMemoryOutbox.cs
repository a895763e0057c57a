using OrdersEs.Infrastructure.Diagnostics;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Outbox;

/// <summary>
/// The outbox of the in-memory store: <see cref="EventStore.InMemoryEventStore"/> adds a message per event inside its
/// append lock, so an event and its message appear together or not at all. Lost on restart, like the events.
/// </summary>
public sealed class InMemoryOutbox(TimeProvider? timeProvider = null) : IOutboxStore, IOutboxMonitor
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    // Undelivered messages by id; id order is append order, hence sequence order within an aggregate.
    private readonly SortedDictionary<long, Entry> _undelivered = [];
    private readonly HashSet<string> _eventIds = new(StringComparer.Ordinal);
    private readonly Queue<Entry> _delivered = new();
    private readonly SortedDictionary<long, OutboxDeadLetter> _deadLetters = [];
    private readonly Dictionary<long, StoredEventEnvelope> _deadEnvelopes = [];
    // Per aggregate, its dead letters' sequence -> id: a message after the lowest one is parked.
    private readonly Dictionary<string, SortedDictionary<int, long>> _deadByAggregate = new(StringComparer.Ordinal);
    private readonly SortedDictionary<long, OutboxSkippedMessage> _skipped = [];
    private long _lastId;

    /// <summary>Adds a message for an envelope unless one exists for its event id; true when added.</summary>
    public bool Add(StoredEventEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        lock (_gate)
        {
            if (!_eventIds.Add(envelope.EventId)) return false;
            var id = ++_lastId;
            _undelivered.Add(id, new Entry(id, envelope));
            return true;
        }
    }

    public Task<IReadOnlyList<OutboxMessage>> ClaimAsync(string owner, int batchSize, TimeSpan lease, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var claimed = new List<OutboxMessage>();
        lock (_gate)
        {
            var blocked = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in _undelivered.Values)
            {
                if (claimed.Count == batchSize) break;
                var aggregateId = entry.Envelope.AggregateId;
                if (blocked.Contains(aggregateId)) continue;
                if (entry.ClaimedUntil > now || entry.NextAttemptAt > now || IsParked(entry))
                {
                    blocked.Add(aggregateId);
                    continue;
                }
                entry.ClaimedBy = owner;
                entry.ClaimedUntil = now + lease;
                claimed.Add(new OutboxMessage(entry.Id, entry.Envelope.EventId, aggregateId, entry.Envelope.Sequence, entry.Attempts, entry.Envelope));
            }
        }
        return Task.FromResult<IReadOnlyList<OutboxMessage>>(claimed);
    }

    public Task<int> RenewClaimsAsync(string owner, IReadOnlyCollection<long> ids, TimeSpan lease, CancellationToken cancellationToken)
    {
        var until = _time.GetUtcNow() + lease;
        var renewed = 0;
        lock (_gate)
        {
            foreach (var id in ids)
            {
                if (!_undelivered.TryGetValue(id, out var entry) || entry.ClaimedBy != owner) continue;
                entry.ClaimedUntil = until;
                renewed++;
            }
        }
        return Task.FromResult(renewed);
    }

    public Task MarkDeliveredAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            foreach (var id in ids)
            {
                if (!_undelivered.Remove(id, out var entry)) continue;
                entry.DeliveredAt = now;
                entry.ClaimedBy = null;
                entry.ClaimedUntil = null;
                _delivered.Enqueue(entry);
            }
        }
        return Task.CompletedTask;
    }

    public Task RetryLaterAsync(string owner, long id, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_undelivered.TryGetValue(id, out var entry) && entry.ClaimedBy == owner)
            {
                entry.Attempts++;
                entry.LastError = error;
                entry.NextAttemptAt = nextAttemptAt;
                entry.ClaimedBy = null;
                entry.ClaimedUntil = null;
            }
        }
        return Task.CompletedTask;
    }

    public Task DeadLetterAsync(string owner, long id, string error, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_undelivered.TryGetValue(id, out var entry) && entry.ClaimedBy == owner)
            {
                _undelivered.Remove(id);
                var envelope = entry.Envelope;
                _deadLetters.Add(id, new OutboxDeadLetter(id, envelope.EventId, envelope.AggregateId, envelope.Sequence, envelope.EventType,
                    entry.Attempts + 1, error, now));
                _deadEnvelopes.Add(id, envelope);
                if (!_deadByAggregate.TryGetValue(envelope.AggregateId, out var dead))
                    _deadByAggregate.Add(envelope.AggregateId, dead = []);
                dead.Add(envelope.Sequence, id);
            }
        }
        return Task.CompletedTask;
    }

    public Task ReleaseAsync(string owner, IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var id in ids)
            {
                if (_undelivered.TryGetValue(id, out var entry) && entry.ClaimedBy == owner)
                {
                    entry.ClaimedBy = null;
                    entry.ClaimedUntil = null;
                }
            }
        }
        return Task.CompletedTask;
    }

    public Task<int> PruneDeliveredAsync(DateTimeOffset deliveredBefore, CancellationToken cancellationToken)
    {
        var pruned = 0;
        lock (_gate)
        {
            // Delivery times only grow along the queue (one clock), so the oldest are at its head.
            while (_delivered.TryPeek(out var entry) && entry.DeliveredAt < deliveredBefore)
            {
                _delivered.Dequeue();
                _eventIds.Remove(entry.Envelope.EventId);
                pruned++;
            }
        }
        return Task.FromResult(pruned);
    }

    public Task<OutboxCounts> GetCountsAsync(CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            long inFlight = 0, parked = 0;
            foreach (var entry in _undelivered.Values)
            {
                if (entry.ClaimedUntil > now) inFlight++;
                else if (IsParked(entry)) parked++;
            }
            return Task.FromResult(new OutboxCounts(_undelivered.Count - inFlight - parked, inFlight, _deadLetters.Count, parked));
        }
    }

    public Task<IReadOnlyList<OutboxDeadLetter>> GetDeadLettersAsync(int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<OutboxDeadLetter>>(
                _deadLetters.Values.OrderBy(d => d.FailedAt).ThenBy(d => d.Id).Take(limit)
                    .Select(d => d with
                    {
                        Parked = _undelivered.Values.LongCount(e =>
                            e.Envelope.AggregateId == d.AggregateId && e.Envelope.Sequence > d.Sequence && !(e.ClaimedUntil > now)),
                    })
                    .ToArray());
        }
    }

    public Task<IReadOnlyList<OutboxSkippedMessage>> GetSkippedAsync(int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<OutboxSkippedMessage>>(
                _skipped.Values.OrderByDescending(s => s.SkippedAt).ThenByDescending(s => s.Id).Take(limit).ToArray());
        }
    }

    public Task<DeadLetterOutcome> RetryDeadLetterAsync(long id, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_deadLetters.TryGetValue(id, out var letter)) return Task.FromResult(Missing(id));
            var dead = _deadByAggregate[letter.AggregateId];
            var (firstSequence, firstId) = dead.First();
            if (firstSequence < letter.Sequence)
                return Task.FromResult(new DeadLetterOutcome(DeadLetterResult.EarlierDeadLetter, EarlierDeadLetterId: firstId));
            Remove(letter);
            _deadEnvelopes.Remove(id, out var envelope);
            // Back under its old id: claimed before the later messages of its aggregate, which it parked.
            _undelivered.Add(id, new Entry(id, envelope!));
        }
        OrdersEsTelemetry.RecordOutboxDeadLetterSettled(retried: true);
        return Task.FromResult(DeadLetterOutcome.Done);
    }

    public Task<DeadLetterOutcome> SkipDeadLetterAsync(long id, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var now = _time.GetUtcNow();
        OutboxSkippedMessage skipped;
        lock (_gate)
        {
            if (!_deadLetters.TryGetValue(id, out var letter)) return Task.FromResult(Missing(id));
            Remove(letter);
            _deadEnvelopes.Remove(id);
            skipped = new OutboxSkippedMessage(letter.Id, letter.EventId, letter.AggregateId, letter.Sequence, letter.EventType, letter.Attempts,
                letter.LastError, letter.FailedAt, reason, now);
            _skipped.Add(id, skipped);
        }
        OrdersEsTelemetry.RecordOutboxDeadLetterSettled(retried: false);
        return Task.FromResult(new DeadLetterOutcome(DeadLetterResult.Done, skipped));
    }

    // Under _gate.
    private DeadLetterOutcome Missing(long id) =>
        _skipped.TryGetValue(id, out var skipped) ? new DeadLetterOutcome(DeadLetterResult.AlreadySkipped, skipped) : DeadLetterOutcome.NotFound;

    // Under _gate.
    private void Remove(OutboxDeadLetter letter)
    {
        _deadLetters.Remove(letter.Id);
        var dead = _deadByAggregate[letter.AggregateId];
        dead.Remove(letter.Sequence);
        if (dead.Count == 0) _deadByAggregate.Remove(letter.AggregateId);
    }

    // Under _gate. A message after a dead letter of its aggregate waits for an operator.
    private bool IsParked(Entry entry) =>
        _deadByAggregate.TryGetValue(entry.Envelope.AggregateId, out var dead) && dead.First().Key < entry.Envelope.Sequence;

    private sealed class Entry(long id, StoredEventEnvelope envelope)
    {
        public long Id { get; } = id;
        public StoredEventEnvelope Envelope { get; } = envelope;
        public int Attempts { get; set; }
        public DateTimeOffset? NextAttemptAt { get; set; }
        public string? ClaimedBy { get; set; }
        public DateTimeOffset? ClaimedUntil { get; set; }
        public string? LastError { get; set; }
        public DateTimeOffset? DeliveredAt { get; set; }
    }
}
