using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Linq.Expressions;
using System.Reflection;

namespace OrdersEs.Domain.EventSourcing;

/// <summary>
/// An event-sourced aggregate: state changes only by applying events, which are dispatched to a handler
/// registered with <see cref="When{TEvent}"/>, else to an <c>On{EventTypeName}</c> method, else fail loudly.
/// </summary>
public abstract class AggregateRoot
{
    private static readonly ConcurrentDictionary<Type, FrozenDictionary<Type, Action<AggregateRoot, DomainEvent>>> ConventionHandlers = new();

    private readonly Dictionary<Type, Action<DomainEvent>> _registered = [];
    private readonly FrozenDictionary<Type, Action<AggregateRoot, DomainEvent>> _conventions;
    private readonly List<DomainEvent> _pending = [];

    protected AggregateRoot()
    {
        _conventions = ConventionHandlers.GetOrAdd(GetType(), FindConventionHandlers);
    }

    /// <summary>The longest stream id the stores take (<c>aggregate_id VARCHAR(64)</c>).</summary>
    public const int MaxIdLength = 64;

    /// <summary>The stream id; at most <see cref="MaxIdLength"/> characters.</summary>
    public string Id { get; protected set; } = "";

    /// <summary>The number of events applied so far (the sequence of the last one).</summary>
    public int Version { get; private set; }

    /// <summary>The name stored as <c>aggregate_type</c>; the class's simple name unless overridden.</summary>
    public virtual string AggregateType => GetType().Name;

    /// <summary>Events applied since the last save, in order.</summary>
    public IReadOnlyList<DomainEvent> PendingEvents => _pending;

    /// <summary>Registers the handler for one event type; it wins over an <c>On...</c> method.</summary>
    protected void When<TEvent>(Action<TEvent> handler) where TEvent : DomainEvent =>
        _registered[typeof(TEvent)] = e => handler((TEvent)e);

    /// <summary>Dispatches a new event and queues it for the next save.</summary>
    protected void Apply(DomainEvent domainEvent)
    {
        Dispatch(domainEvent);
        _pending.Add(domainEvent);
    }

    /// <summary>Dispatches a stored event during rehydration; nothing is queued.</summary>
    public void Replay(DomainEvent domainEvent) => Dispatch(domainEvent);

    /// <summary>Forgets pending events once they are stored.</summary>
    public void ClearPendingEvents() => _pending.Clear();

    /// <summary>Sets identity and version when state is restored from a snapshot.</summary>
    internal void RestoreIdentity(string id, int version)
    {
        Id = id;
        Version = version;
    }

    /// <summary>Sets the stream id before the first event is replayed.</summary>
    internal void AssignId(string id) => Id = id;

    private void Dispatch(DomainEvent domainEvent)
    {
        var eventType = domainEvent.GetType();
        if (_registered.TryGetValue(eventType, out var handler))
            handler(domainEvent);
        else if (_conventions.TryGetValue(eventType, out var convention))
            convention(this, domainEvent);
        else
            throw new EventHandlerException(
                $"{GetType().Name} has no handler for {eventType.Name}: register one with When<{eventType.Name}>() or add On{eventType.Name}({eventType.Name}).");
        Version++;
    }

    // Runs once per aggregate type: every method On{X}(X e) where X is a DomainEvent becomes a compiled delegate.
    private static FrozenDictionary<Type, Action<AggregateRoot, DomainEvent>> FindConventionHandlers(Type aggregateType)
    {
        var handlers = new Dictionary<Type, Action<AggregateRoot, DomainEvent>>();
        const BindingFlags flags = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        for (var type = aggregateType; type is not null && type != typeof(AggregateRoot); type = type.BaseType)
        {
            foreach (var method in type.GetMethods(flags | BindingFlags.DeclaredOnly))
            {
                var parameters = method.GetParameters();
                if (parameters.Length != 1) continue;
                var eventType = parameters[0].ParameterType;
                if (!typeof(DomainEvent).IsAssignableFrom(eventType) || method.Name != "On" + eventType.Name) continue;
                handlers.TryAdd(eventType, Compile(type, method, eventType));
            }
        }
        return handlers.ToFrozenDictionary();
    }

    private static Action<AggregateRoot, DomainEvent> Compile(Type declaringType, MethodInfo method, Type eventType)
    {
        var aggregate = Expression.Parameter(typeof(AggregateRoot), "aggregate");
        var domainEvent = Expression.Parameter(typeof(DomainEvent), "domainEvent");
        var call = Expression.Call(Expression.Convert(aggregate, declaringType), method, Expression.Convert(domainEvent, eventType));
        return Expression.Lambda<Action<AggregateRoot, DomainEvent>>(call, aggregate, domainEvent).Compile();
    }
}
