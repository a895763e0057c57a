namespace OrdersEs.Infrastructure.Messaging;

/// <summary>
/// The in-process event bus (provider <c>memory</c>): hands each message to the subscribers of its destination,
/// one after the other in subscription order, and fails the publish when any of them fails.
/// </summary>
public sealed class InMemoryEventPublisher : IEventPublisher
{
    private readonly Lock _gate = new();
    // Copy-on-write: publishing reads a snapshot without locking; subscribing is rare.
    private Subscription[] _subscriptions = [];

    /// <summary>Subscribes to every message sent to <paramref name="destination"/>; dispose the result to unsubscribe.</summary>
    public IDisposable Subscribe(string destination, Func<EventMessage, CancellationToken, Task> handler) =>
        Add(new Subscription(this, destination, null, handler));

    /// <summary>Subscribes to the messages of one event type sent to <paramref name="destination"/>.</summary>
    public IDisposable Subscribe(string destination, string eventType, Func<EventMessage, CancellationToken, Task> handler) =>
        Add(new Subscription(this, destination, eventType, handler));

    /// <summary>
    /// Runs every matching subscriber, even after one failed, then throws <see cref="EventPublishException"/>
    /// if any failed: a retry redelivers to all of them, so subscribers must be idempotent (at-least-once).
    /// </summary>
    public async Task PublishAsync(EventMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        List<Exception>? failures = null;
        var matched = 0;
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            if (!subscription.Matches(message)) continue;
            matched++;
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await subscription.Handler(message, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e)
            {
                (failures ??= []).Add(e);
            }
        }

        if (failures is not null)
        {
            throw new EventPublishException(
                $"{failures.Count} of {matched} subscribers of '{message.Destination}' failed on {message.EventType} {message.MessageId}.",
                failures.Count == 1 ? failures[0] : new AggregateException(failures));
        }
    }

    private Subscription Add(Subscription subscription)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subscription.Destination);
        ArgumentNullException.ThrowIfNull(subscription.Handler);
        lock (_gate) _subscriptions = [.. _subscriptions, subscription];
        return subscription;
    }

    private void Remove(Subscription subscription)
    {
        lock (_gate) _subscriptions = Array.FindAll(_subscriptions, s => !ReferenceEquals(s, subscription));
    }

    private sealed class Subscription(
        InMemoryEventPublisher owner,
        string destination,
        string? eventType,
        Func<EventMessage, CancellationToken, Task> handler) : IDisposable
    {
        public string Destination { get; } = destination;
        public Func<EventMessage, CancellationToken, Task> Handler { get; } = handler;

        public bool Matches(EventMessage message) =>
            string.Equals(Destination, message.Destination, StringComparison.Ordinal)
            && (eventType is null || string.Equals(eventType, message.EventType, StringComparison.Ordinal));

        public void Dispose() => owner.Remove(this);
    }
}
