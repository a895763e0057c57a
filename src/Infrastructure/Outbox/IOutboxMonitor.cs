namespace OrdersEs.Infrastructure.Outbox;

/// <summary>How many messages wait, are being published, and were given up on.</summary>
/// <param name="Pending">Undelivered and not claimed now (new, or waiting for a retry).</param>
/// <param name="InFlight">Claimed by a dispatcher whose lease has not expired.</param>
/// <param name="DeadLettered">In the dead-letter table.</param>
public sealed record OutboxCounts(long Pending, long InFlight, long DeadLettered);

/// <summary>A message the dispatcher gave up on after its last attempt.</summary>
public sealed record OutboxDeadLetter(
    long Id, string EventId, string AggregateId, int Sequence, string? EventType, int Attempts, string? LastError, DateTimeOffset FailedAt);

/// <summary>The operator's view of the outbox (exposed under <c>/admin/outbox</c>): counts, dead letters, and putting one back.</summary>
public interface IOutboxMonitor
{
    Task<OutboxCounts> GetCountsAsync(CancellationToken cancellationToken = default);

    /// <summary>Dead letters, oldest failure first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<OutboxDeadLetter>> GetDeadLettersAsync(int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>Moves a dead letter back to the outbox with its attempts reset, for delivery in its aggregate's order; false for an unknown id.</summary>
    Task<bool> RetryDeadLetterAsync(long id, CancellationToken cancellationToken = default);
}
