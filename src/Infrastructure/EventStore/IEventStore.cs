using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.EventStore;

/// <summary>Append-only storage of event streams, one per aggregate, plus one global order over all of them.</summary>
public interface IEventStore
{
    /// <summary>
    /// Appends events after <paramref name="expectedVersion"/> (0 for a new stream), numbering them
    /// expectedVersion+1...; throws <see cref="ConcurrencyException"/> when the stream is elsewhere.
    /// </summary>
    Task<IReadOnlyList<StoredEventEnvelope>> AppendAsync(
        string aggregateId,
        string aggregateType,
        IReadOnlyList<DomainEvent> events,
        int expectedVersion,
        EventContext? context = null,
        CancellationToken cancellationToken = default);

    /// <summary>One stream's events after <paramref name="afterSequence"/>, in sequence order, upcast.</summary>
    Task<IReadOnlyList<StoredEventEnvelope>> LoadAsync(string aggregateId, int afterSequence = 0, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> events after <paramref name="after"/> in the global order, upcast; never skips one that commits late.</summary>
    Task<IReadOnlyList<StoredEventEnvelope>> ReadAllAsync(GlobalCheckpoint after, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// The events committed after <paramref name="after"/> in the global order, counted up to <paramref name="cap"/>, and
    /// when the first of them occurred: the store's head as it is now, including events a gap-safe read still holds back.
    /// </summary>
    Task<EventLag> LagAsync(GlobalCheckpoint after, int cap, CancellationToken cancellationToken = default);

    /// <summary>The stream's version: its last sequence, 0 when it has no events.</summary>
    Task<int> LatestVersionAsync(string aggregateId, CancellationToken cancellationToken = default);
}
