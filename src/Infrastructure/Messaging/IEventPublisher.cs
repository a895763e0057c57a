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

    /// <summary>
    /// Publishes <paramref name="messages"/> in their order and tells how many of them, from the first, the bus accepted:
    /// all, or those before the first that failed (its error returned; an <see cref="OperationCanceledException"/> when
    /// <paramref name="cancellationToken"/> stopped it). Never throws for a message's failure.
    /// </summary>
    /// <remarks>
    /// This default publishes one message at a time and stops at the first failure. A bus that keeps the order with
    /// several messages in flight overrides it (RabbitMQ: all on one channel, confirms awaited together); there the
    /// messages after a failed one may have been accepted too.
    /// </remarks>
    Task<PublishOutcome> PublishInOrderAsync(IReadOnlyList<EventMessage> messages, CancellationToken cancellationToken = default) =>
        PublishOutcome.OneAfterAnotherAsync(messages, PublishAsync, cancellationToken);
}

/// <summary>What became of messages published in order: the first <paramref name="Accepted"/> were accepted, and the next failed with <paramref name="Error"/>.</summary>
public readonly record struct PublishOutcome(int Accepted, Exception? Error)
{
    /// <summary>Publishes <paramref name="items"/> one at a time with <paramref name="publish"/>, stopping at the first failure.</summary>
    public static async Task<PublishOutcome> OneAfterAnotherAsync<T>(
        IReadOnlyList<T> items, Func<T, CancellationToken, Task> publish, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(publish);
        for (var i = 0; i < items.Count; i++)
        {
            try
            {
                await publish(items[i], cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                return new PublishOutcome(i, e);
            }
        }
        return new PublishOutcome(items.Count, null);
    }
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
