using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Bench.Scenarios;

/// <summary>A small event like a real order change: a few strings and numbers (~100 bytes of JSON).</summary>
public sealed record ItemAdded(string OrderId, string Sku, int Quantity, long UnitPrice) : DomainEvent;

/// <summary>An aggregate that sums its events; snapshot-capable, for the load scenario.</summary>
public sealed class Tally : AggregateRoot, ISnapshotCapable<Tally.State>
{
    public sealed record State(long Total, int Items);

    public static int SnapshotSchemaVersion => 1;

    public long Total { get; private set; }
    public int Items { get; private set; }

    public static Tally Start(string id) => new() { Id = id };

    public void Add(int times)
    {
        for (var i = 0; i < times; i++) Apply(new ItemAdded(Id, "SKU-" + (Items % 97), 2, 1250));
    }

    public State CaptureSnapshot() => new(Total, Items);

    public void RestoreSnapshot(State state) => (Total, Items) = (state.Total, state.Items);

    private void OnItemAdded(ItemAdded e)
    {
        Total += e.Quantity * e.UnitPrice;
        Items++;
    }
}

public static class BenchKernel
{
    public static EventSerializer Serializer() =>
        new(new EventTypeRegistry().Register<ItemAdded>().RegisterAssembly(typeof(OrdersEs.Domain.Orders.Order).Assembly));

    public static EnvelopeFactory Envelopes(EventSerializer serializer) => new(serializer, TimeProvider.System);

    public static DomainEvent[] Items(string streamId, int count, int first) =>
        Enumerable.Range(first, count).Select(i => (DomainEvent)new ItemAdded(streamId, "SKU-" + (i % 97), 2, 1250)).ToArray();
}
