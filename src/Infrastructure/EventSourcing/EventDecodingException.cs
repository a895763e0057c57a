namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>
/// A stored event cannot be decoded: its row's envelope is malformed, or its payload lacks a required member or
/// holds one of the wrong type. Names the event and the member; nothing is ever decoded with nulls in their place.
/// </summary>
public sealed class EventDecodingException(string eventId, string eventType, string aggregateId, string member, string problem, Exception? inner = null)
    : Exception($"Event {eventId} ({eventType}) of '{aggregateId}' cannot be decoded: member '{member}' {problem}.", inner)
{
    public string EventId { get; } = eventId;
    public string EventType { get; } = eventType;
    public string AggregateId { get; } = aggregateId;
    /// <summary>The offending member: a payload path such as <c>lines[0].unit_price</c>, or an envelope field such as <c>envelope.sequence</c>.</summary>
    public string Member { get; } = member;
    /// <summary>What is wrong with <see cref="Member"/>, e.g. <c>is missing</c>.</summary>
    public string Problem { get; } = problem;
    /// <summary>
    /// For a stored row that cannot be read at all (a malformed envelope): the row as its columns give it, with its place
    /// in the global order, so a reader of the global order can name it and an operator can park it. Null otherwise.
    /// </summary>
    public StoredEventEnvelope? Row { get; internal set; }
}
