using System.Text.Json;
using OrdersEs.Domain.EventSourcing;
using Xunit;

namespace OrdersEs.Domain.Tests.Kit;

/// <summary>
/// Given-when-then specs of an aggregate, by its events only:
/// <code>
/// AggregateSpec.For&lt;Order&gt;()
///     .Given(new OrderPlaced(...))
///     .When(order =&gt; order.Confirm())
///     .Then(new OrderConfirmed("o-1"));
/// </code>
/// <c>Given</c> replays history (no pending events); <c>When</c> runs one command on the aggregate, or creates it;
/// <c>Then</c> compares the events the command raised, in order, by type and JSON (so records holding lists compare
/// by content); <c>ThenThrows</c> expects the command to fail and raise nothing.
/// </summary>
public static class AggregateSpec
{
    public static AggregateSpec<T> For<T>() where T : AggregateRoot, new() => new(() => new T());

    public static AggregateSpec<T> For<T>(Func<T> factory) where T : AggregateRoot => new(factory);
}

/// <summary>One spec: see <see cref="AggregateSpec"/>.</summary>
public sealed class AggregateSpec<T>(Func<T> factory) where T : AggregateRoot
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly List<DomainEvent> _history = [];
    private Action<T>? _command;
    private Func<T>? _create;

    /// <summary>The aggregate's past: replayed before the command, in order.</summary>
    public AggregateSpec<T> Given(params DomainEvent[] history)
    {
        _history.AddRange(history);
        return this;
    }

    /// <summary>A command on the aggregate rebuilt from <see cref="Given"/>.</summary>
    public AggregateSpec<T> When(Action<T> command)
    {
        _command = command;
        return this;
    }

    /// <summary>A command that creates the aggregate (a factory such as <c>Order.Place</c>); no history.</summary>
    public AggregateSpec<T> When(Func<T> create)
    {
        _create = create;
        return this;
    }

    /// <summary>Asserts the command raised exactly <paramref name="expected"/>, in order; answers the aggregate for more checks.</summary>
    public T Then(params DomainEvent[] expected)
    {
        T aggregate;
        if (_create is not null)
        {
            aggregate = _create();
        }
        else
        {
            aggregate = Rebuild();
            Command()(aggregate);
        }
        Assert.Equal(expected.Select(Describe).ToArray(), aggregate.PendingEvents.Select(Describe).ToArray());
        Assert.Equal(_history.Count + expected.Length, aggregate.Version);
        return aggregate;
    }

    /// <summary>Asserts the command threw <typeparamref name="TException"/> (or a subtype) and raised nothing; answers the exception.</summary>
    public TException ThenThrows<TException>() where TException : Exception
    {
        if (_create is not null) return Assert.ThrowsAny<TException>(() => _create());
        // Rebuilt outside the assertion: a history that fails to replay is a broken spec, not the command's refusal.
        var aggregate = Rebuild();
        var command = Command();
        var thrown = Assert.ThrowsAny<TException>(() => command(aggregate));
        Assert.Empty(aggregate.PendingEvents);
        return thrown;
    }

    private Action<T> Command() => _command ?? throw new InvalidOperationException("The spec has no When.");

    private T Rebuild()
    {
        var aggregate = factory();
        foreach (var domainEvent in _history) aggregate.Replay(domainEvent);
        return aggregate;
    }

    private static string Describe(DomainEvent domainEvent) =>
        $"{domainEvent.GetType().Name} {JsonSerializer.Serialize(domainEvent, domainEvent.GetType(), Json)}";
}
