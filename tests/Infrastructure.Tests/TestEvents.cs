using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Infrastructure.Tests;

public sealed record ThingHappened(string ThingName, int HowMany) : DomainEvent;

[EventType("thing_renamed_v2")]
public sealed record ThingRenamed(string NewName) : DomainEvent;

/// <summary>How many of one thing were counted; <see cref="Label"/> is derived, so payloads neither hold nor expect it.</summary>
public sealed record ThingCount(string Thing, int HowMany)
{
    public string Label => $"{HowMany} x {Thing}";
}

/// <summary>Several things counted at once: the test feature's event with a list of nested records in its payload.</summary>
public sealed record ThingsCounted(string CountedBy, IReadOnlyList<ThingCount> Things) : DomainEvent;

public sealed record CounterClosed(string Reason) : DomainEvent;

public enum CounterStatus
{
    Open,
    Closed,
}

/// <summary>
/// The kernel tests' own aggregate (no sample feature needed): a counter of things that snapshots; its batch command
/// makes the interval-crossing cases easy, its tally, name and status give read models and snapshots some shape.
/// </summary>
public sealed class Counter : AggregateRoot, ISnapshotCapable<Counter.State>
{
    private readonly List<ThingCount> _things = [];

    /// <summary>The snapshot: a nested list and an enum, so both must round-trip.</summary>
    public sealed record State(int Total, string? Name, CounterStatus Status, IReadOnlyList<ThingCount> Things);

    public static int SnapshotSchemaVersion => 1;

    public int Total { get; private set; }
    public string? Name { get; private set; }
    public CounterStatus Status { get; private set; }
    /// <summary>One entry per thing, in the order first counted.</summary>
    public IReadOnlyList<ThingCount> Things => _things;

    public static Counter Start(string id) => new() { Id = id };

    /// <summary>Counts <paramref name="times"/> ticks, one event each.</summary>
    public void Increment(int times)
    {
        for (var i = 0; i < times; i++) Apply(new ThingHappened("tick", 1));
    }

    /// <summary>Counts <paramref name="howMany"/> of one thing in one event.</summary>
    public void Count(string thing, int howMany) => Apply(new ThingHappened(thing, howMany));

    /// <summary>Counts several things in one event.</summary>
    public void Tally(string countedBy, IReadOnlyList<ThingCount> things) => Apply(new ThingsCounted(countedBy, things.ToArray()));

    public void Rename(string newName) => Apply(new ThingRenamed(newName));

    public void Close(string reason) => Apply(new CounterClosed(reason));

    public State CaptureSnapshot() => new(Total, Name, Status, _things.ToArray());

    public void RestoreSnapshot(State state)
    {
        Total = state.Total;
        Name = state.Name;
        Status = state.Status;
        _things.Clear();
        _things.AddRange(state.Things);
    }

    private void OnThingHappened(ThingHappened e) => Add(e.ThingName, e.HowMany);

    private void OnThingsCounted(ThingsCounted e)
    {
        foreach (var thing in e.Things) Add(thing.Thing, thing.HowMany);
    }

    private void OnThingRenamed(ThingRenamed e) => Name = e.NewName;

    private void OnCounterClosed(CounterClosed e) => Status = CounterStatus.Closed;

    private void Add(string thing, int howMany)
    {
        Total += howMany;
        var index = _things.FindIndex(t => t.Thing == thing);
        if (index < 0) _things.Add(new ThingCount(thing, howMany));
        else _things[index] = _things[index] with { HowMany = _things[index].HowMany + howMany };
    }
}

/// <summary>Shared wiring for tests: one registry, serializer and envelope factory.</summary>
public static class TestKernel
{
    public static EventTypeRegistry Registry() =>
        new EventTypeRegistry().Register<ThingHappened>().Register<ThingRenamed>().Register<ThingsCounted>().Register<CounterClosed>();

    public static EventSerializer Serializer() => new(Registry());

    public static EnvelopeFactory Envelopes(TimeProvider? time = null) => new(Serializer(), time ?? TimeProvider.System);
}
