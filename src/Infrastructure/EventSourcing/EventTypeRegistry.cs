using System.Collections.Concurrent;
using System.Reflection;

using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>
/// Maps stable event names (stored as <c>event_type</c>) to CLR types and back. The name is the type's simple
/// name unless <see cref="EventTypeAttribute"/> overrides it, so renaming a class need not orphan its history.
/// </summary>
public sealed class EventTypeRegistry
{
    private readonly ConcurrentDictionary<string, Type> _typesByName = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Type, string> _namesByType = new();

    /// <summary>Registers an event type under its stable name, plus any older names it answers to.</summary>
    public EventTypeRegistry Register(Type eventType, params string[] aliases)
    {
        if (!typeof(DomainEvent).IsAssignableFrom(eventType) || eventType.IsAbstract)
            throw new ArgumentException($"{eventType.Name} is not a concrete DomainEvent.", nameof(eventType));
        var name = NameFor(eventType);
        foreach (var key in aliases.Prepend(name))
        {
            var existing = _typesByName.GetOrAdd(key, eventType);
            if (existing != eventType)
                throw new InvalidOperationException($"Event name '{key}' is taken by {existing.FullName}; {eventType.FullName} needs another one.");
        }
        _namesByType[eventType] = name;
        return this;
    }

    public EventTypeRegistry Register<TEvent>(params string[] aliases) where TEvent : DomainEvent =>
        Register(typeof(TEvent), aliases);

    /// <summary>Registers every concrete DomainEvent type of an assembly.</summary>
    public EventTypeRegistry RegisterAssembly(Assembly assembly)
    {
        foreach (var type in assembly.GetTypes().Where(t => typeof(DomainEvent).IsAssignableFrom(t) && !t.IsAbstract))
            Register(type);
        return this;
    }

    /// <summary>The stored name of an event type; unregistered types are registered on first use.</summary>
    public string NameOf(Type eventType) =>
        _namesByType.TryGetValue(eventType, out var name) ? name : Register(eventType)._namesByType[eventType];

    public bool TryResolve(string name, out Type eventType) => _typesByName.TryGetValue(name, out eventType!);

    public Type Resolve(string name) =>
        TryResolve(name, out var type)
            ? type
            : throw new EventHandlerException($"Unknown event type '{name}': register it, or add an upcaster that renames it.");

    private static string NameFor(Type eventType) =>
        eventType.GetCustomAttribute<EventTypeAttribute>()?.Name ?? eventType.Name;
}
