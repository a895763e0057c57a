using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.EventStore.EfCore;

/// <summary>The durable event store on PostgreSQL or SQLite (<c>pyfly_event_store</c>).</summary>
public sealed class EfCoreEventStore(EventStoreDatabase database, EnvelopeFactory envelopes, UpcasterChain? upcasters = null) : IEventStore
{
    private readonly EventStoreDatabase _database = database;
    private readonly EnvelopeFactory _envelopes = envelopes;
    private readonly UpcasterChain _upcasters = upcasters ?? UpcasterChain.None;

    public Task<IReadOnlyList<StoredEventEnvelope>> AppendAsync(string aggregateId, string aggregateType, IReadOnlyList<DomainEvent> events,
        int expectedVersion, EventContext? context = null, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public Task<IReadOnlyList<StoredEventEnvelope>> LoadAsync(string aggregateId, int afterSequence = 0, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    public Task<IReadOnlyList<StoredEventEnvelope>> ReadAllAsync(GlobalCheckpoint after, int limit, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    public Task<int> LatestVersionAsync(string aggregateId, CancellationToken cancellationToken = default) => throw new NotImplementedException();
}
