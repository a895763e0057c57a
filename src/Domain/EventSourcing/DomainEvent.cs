namespace OrdersEs.Domain.EventSourcing;

/// <summary>Base of every domain event: an immutable record of something that happened to an aggregate.</summary>
public abstract record DomainEvent;

/// <summary>Overrides the stable name stored as <c>event_type</c> (default: the type's simple name).</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class EventTypeAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}
