using System.Diagnostics;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.Diagnostics;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Outbox;

namespace OrdersEs.Infrastructure.EventStore;

/// <summary>
/// The default store: streams in process memory, lost on restart. One lock serializes appends, so the
/// global order is the commit order and readers never see a half-written append. With an <see cref="InMemoryOutbox"/>,
/// each append adds its messages inside the same lock, so events and messages appear together.
/// </summary>
public sealed class InMemoryEventStore(
    EnvelopeFactory envelopes, UpcasterChain? upcasters = null, EventStoreSignal? signal = null, InMemoryOutbox? outbox = null) : IEventStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<StoredEventEnvelope>> _streams = new(StringComparer.Ordinal);
    private readonly List<StoredEventEnvelope> _all = [];
    private readonly UpcasterChain _upcasters = upcasters ?? UpcasterChain.None;

    public Task<IReadOnlyList<StoredEventEnvelope>> AppendAsync(
        string aggregateId, string aggregateType, IReadOnlyList<DomainEvent> events, int expectedVersion,
        EventContext? context = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = envelopes.Create(aggregateId, aggregateType, events, expectedVersion, context);
        if (pending.Length == 0) return Task.FromResult<IReadOnlyList<StoredEventEnvelope>>([]);
        var started = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            var stream = _streams.TryGetValue(aggregateId, out var existing) ? existing : null;
            var actual = stream?.Count ?? 0;
            if (actual != expectedVersion)
            {
                OrdersEsTelemetry.RecordAppend("memory", pending.Length, 0, started, succeeded: false);
                throw new ConcurrencyException(aggregateId, expectedVersion, actual);
            }
            if (stream is null) _streams[aggregateId] = stream = [];
            for (var i = 0; i < pending.Length; i++)
            {
                pending[i] = pending[i] with { GlobalPosition = _all.Count + 1 };
                _all.Add(pending[i]);
                stream.Add(pending[i]);
                outbox?.Add(pending[i]);
            }
        }
        OrdersEsTelemetry.RecordAppend("memory", pending.Length, pending[^1].GlobalPosition, started, succeeded: true);
        signal?.NotifyAppended();
        return Task.FromResult<IReadOnlyList<StoredEventEnvelope>>(pending);
    }

    public Task<IReadOnlyList<StoredEventEnvelope>> LoadAsync(string aggregateId, int afterSequence = 0, CancellationToken cancellationToken = default)
    {
        StoredEventEnvelope[] slice;
        lock (_gate)
        {
            slice = _streams.TryGetValue(aggregateId, out var stream) && afterSequence < stream.Count
                ? stream.Skip(Math.Max(afterSequence, 0)).ToArray()
                : [];
        }
        return Task.FromResult(_upcasters.Apply(slice));
    }

    public Task<IReadOnlyList<StoredEventEnvelope>> ReadAllAsync(GlobalCheckpoint after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        StoredEventEnvelope[] slice;
        lock (_gate)
        {
            var start = (int)Math.Clamp(after.Position, 0, _all.Count);
            slice = _all.GetRange(start, Math.Min(limit, _all.Count - start)).ToArray();
        }
        return Task.FromResult(_upcasters.Apply(slice));
    }

    public Task<EventLag> LagAsync(GlobalCheckpoint after, int cap, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cap);
        lock (_gate)
        {
            var start = (int)Math.Clamp(after.Position, 0, _all.Count);
            var behind = _all.Count - start;
            return Task.FromResult(behind == 0 ? EventLag.None : new EventLag(Math.Min(behind, cap), _all[start].OccurredAt));
        }
    }

    public Task<int> LatestVersionAsync(string aggregateId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_streams.TryGetValue(aggregateId, out var stream) ? stream.Count : 0);
        }
    }
}
