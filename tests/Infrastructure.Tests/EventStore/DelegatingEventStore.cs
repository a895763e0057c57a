using System.Collections.Concurrent;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Infrastructure.Tests.EventStore;

/// <summary>An event store that passes every call on to another; a test overrides the calls it watches or bends.</summary>
internal class DelegatingEventStore(IEventStore inner) : IEventStore
{
    public virtual Task<IReadOnlyList<StoredEventEnvelope>> AppendAsync(string aggregateId, string aggregateType, IReadOnlyList<DomainEvent> events,
        int expectedVersion, EventContext? context = null, CancellationToken cancellationToken = default) =>
        inner.AppendAsync(aggregateId, aggregateType, events, expectedVersion, context, cancellationToken);

    public virtual Task<IReadOnlyList<StoredEventEnvelope>> LoadAsync(string aggregateId, int afterSequence = 0, CancellationToken cancellationToken = default) =>
        inner.LoadAsync(aggregateId, afterSequence, cancellationToken);

    public virtual Task<IReadOnlyList<StoredEventEnvelope>> ReadAllAsync(GlobalCheckpoint after, int limit, CancellationToken cancellationToken = default) =>
        inner.ReadAllAsync(after, limit, cancellationToken);

    public virtual Task<EventLag> LagAsync(GlobalCheckpoint after, int cap, CancellationToken cancellationToken = default) =>
        inner.LagAsync(after, cap, cancellationToken);

    public virtual Task<int> LatestVersionAsync(string aggregateId, CancellationToken cancellationToken = default) =>
        inner.LatestVersionAsync(aggregateId, cancellationToken);
}

/// <summary>Records the <c>afterSequence</c> of every stream read, in order: how many reads a load made, and from where.</summary>
internal sealed class LoadRecordingEventStore(IEventStore inner) : DelegatingEventStore(inner)
{
    private readonly ConcurrentQueue<int> _loadsAfter = new();

    public IReadOnlyList<int> LoadsAfter => [.. _loadsAfter];

    public void Forget() => _loadsAfter.Clear();

    public override Task<IReadOnlyList<StoredEventEnvelope>> LoadAsync(string aggregateId, int afterSequence = 0, CancellationToken cancellationToken = default)
    {
        _loadsAfter.Enqueue(afterSequence);
        return base.LoadAsync(aggregateId, afterSequence, cancellationToken);
    }
}
