namespace OrdersEs.Infrastructure.Messaging;

/// <summary>
/// The event bus (pyfly's EDA <c>EventPublisher</c>): delivers one message to a destination
/// (a topic exchange on RabbitMQ) under its event type (the routing key).
/// </summary>
public interface IEventPublisher
{
    /// <summary>
    /// Completes once the bus has accepted the message (subscribers ran, or the broker confirmed it);
    /// throws <see cref="EventPublishException"/> when it did not, so a caller such as the outbox retries.
    /// </summary>
    Task PublishAsync(EventMessage message, CancellationToken cancellationToken = default);
}

/// <summary>One message on the event bus: where it goes, what it is, its JSON body and its string headers.</summary>
/// <param name="Destination">Topic or exchange name, e.g. <c>pyfly.events</c>.</param>
/// <param name="EventType">The stored event type; the routing key on RabbitMQ.</param>
/// <param name="MessageId">Unique id of the message (the event id), for consumers' de-duplication.</param>
/// <param name="Body">The JSON body, sent as UTF-8 with content type <c>application/json</c>.</param>
/// <param name="Headers">String headers (AMQP string headers on RabbitMQ).</param>
public sealed record EventMessage(
    string Destination,
    string EventType,
    string MessageId,
    string Body,
    IReadOnlyDictionary<string, string> Headers);

/// <summary>The event bus did not accept a message; nothing guarantees it was delivered, so publishing again is safe and expected.</summary>
public sealed class EventPublishException(string message, Exception? innerException = null)
    : Exception(message, innerException);
