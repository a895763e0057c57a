using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Infrastructure.Tests;

public sealed record ThingHappened(string ThingName, int HowMany) : DomainEvent;

[EventType("thing_renamed_v2")]
public sealed record ThingRenamed(string NewName) : DomainEvent;

/// <summary>A counter aggregate that snapshots; its batch command makes the interval-crossing cases easy.</summary>
public sealed class Counter : AggregateRoot, ISnapshotCapable<Counter.State>
{
    public sealed record State(int Total);

    public static int SnapshotSchemaVersion => 1;

    public int Total { get; private set; }

    public static Counter Start(string id) => new() { Id = id };

    public void Increment(int times)
    {
        for (var i = 0; i < times; i++) Apply(new ThingHappened("tick", 1));
    }

    public State CaptureSnapshot() => new(Total);

    public void RestoreSnapshot(State state) => Total = state.Total;

    private void OnThingHappened(ThingHappened e) => Total += e.HowMany;

    private void OnThingRenamed(ThingRenamed e) { }
}

/// <summary>Shared wiring for tests: one registry, serializer and envelope factory.</summary>
public static class TestKernel
{
    public static EventTypeRegistry Registry() =>
        new EventTypeRegistry().Register<ThingHappened>().Register<ThingRenamed>();

    public static EventSerializer Serializer() => new(Registry());

    public static EnvelopeFactory Envelopes(TimeProvider? time = null) => new(Serializer(), time ?? TimeProvider.System);
}
