namespace OrdersEs.Infrastructure.EventStore;

/// <summary>
/// How far a reader of the global order is behind the store's head: the events committed after its checkpoint
/// (counted up to a cap, so a far-behind reader costs no more than a near one) and when the oldest of them occurred.
/// </summary>
public readonly record struct EventLag(int Events, DateTimeOffset? OldestAt)
{
    public static readonly EventLag None = new(0, null);

    /// <summary>How long the oldest unread event has waited at <paramref name="now"/>; zero when nothing waits.</summary>
    public TimeSpan Age(DateTimeOffset now) => OldestAt is { } oldest && now > oldest ? now - oldest : TimeSpan.Zero;
}
