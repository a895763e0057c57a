namespace OrdersEs.Domain.EventSourcing;

/// <summary>An event could not be applied to an aggregate: no handler, or an envelope that belongs elsewhere.</summary>
public sealed class EventHandlerException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A business rule of an aggregate refused a command (the API maps it to a 409 problem).</summary>
public class DomainRuleException(string message) : Exception(message);
