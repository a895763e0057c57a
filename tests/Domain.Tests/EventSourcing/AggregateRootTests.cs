using OrdersEs.Domain.EventSourcing;
using Xunit;

namespace OrdersEs.Domain.Tests.EventSourcing;

public sealed record Incremented(int By) : DomainEvent;
public sealed record Renamed(string Name) : DomainEvent;
public sealed record Unhandled : DomainEvent;
public sealed record Exploded : DomainEvent;

/// <summary>Handles Incremented by convention, Renamed both ways (When must win), Exploded by throwing.</summary>
public sealed class Probe : AggregateRoot
{
    public Probe()
    {
        When<Renamed>(e => { Name = e.Name; RegisteredCalls++; });
    }

    public int Count { get; private set; }
    public string Name { get; private set; } = "";
    public int RegisteredCalls { get; private set; }
    public int ConventionCalls { get; private set; }

    public void Raise(DomainEvent e) => Apply(e);

    private void OnIncremented(Incremented e) => Count += e.By;

    private void OnRenamed(Renamed e) => ConventionCalls++;

    private void OnExploded(Exploded e) => throw new InvalidOperationException("boom");
}

public class AggregateRootTests
{
    [Fact]
    public void Convention_method_handles_event_and_version_increments()
    {
        var probe = new Probe();
        probe.Raise(new Incremented(2));
        probe.Raise(new Incremented(3));
        Assert.Equal(5, probe.Count);
        Assert.Equal(2, probe.Version);
    }

    [Fact]
    public void Registered_handler_wins_over_On_method()
    {
        var probe = new Probe();
        probe.Raise(new Renamed("x"));
        Assert.Equal("x", probe.Name);
        Assert.Equal(1, probe.RegisteredCalls);
        Assert.Equal(0, probe.ConventionCalls);
        Assert.Equal(1, probe.Version);
    }

    [Fact]
    public void Unhandled_event_throws_EventHandlerException_and_leaves_version_and_pending()
    {
        var probe = new Probe();
        probe.Raise(new Incremented(1));
        var error = Assert.Throws<EventHandlerException>(() => probe.Raise(new Unhandled()));
        Assert.Contains(nameof(Unhandled), error.Message);
        Assert.Contains(nameof(Probe), error.Message);
        Assert.Equal(1, probe.Version);
        Assert.Single(probe.PendingEvents);
    }

    [Fact]
    public void Unhandled_event_on_replay_throws()
    {
        var probe = new Probe();
        Assert.Throws<EventHandlerException>(() => probe.Replay(new Unhandled()));
        Assert.Equal(0, probe.Version);
    }

    [Fact]
    public void Throwing_handler_leaves_version_unchanged_and_queues_nothing()
    {
        var probe = new Probe();
        Assert.Throws<InvalidOperationException>(() => probe.Raise(new Exploded()));
        Assert.Equal(0, probe.Version);
        Assert.Empty(probe.PendingEvents);
    }

    [Fact]
    public void Apply_queues_pending_events_in_order_and_replay_does_not()
    {
        var probe = new Probe();
        probe.Replay(new Incremented(10));
        probe.Raise(new Incremented(1));
        probe.Raise(new Renamed("n"));
        Assert.Equal([new Incremented(1), new Renamed("n")], probe.PendingEvents);
        Assert.Equal(3, probe.Version);
        probe.ClearPendingEvents();
        Assert.Empty(probe.PendingEvents);
        Assert.Equal(3, probe.Version);
    }

    [Fact]
    public void Aggregate_type_is_the_class_simple_name()
    {
        Assert.Equal("Probe", new Probe().AggregateType);
    }
}
