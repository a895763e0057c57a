namespace OrdersEs.Infrastructure.Outbox;

/// <summary>How many messages wait, are being published, were given up on, and are held back by a dead letter.</summary>
/// <param name="Pending">Undelivered, not claimed now and not parked (new, or waiting for a retry): they go out by themselves.</param>
/// <param name="InFlight">Claimed by a dispatcher whose lease has not expired.</param>
/// <param name="DeadLettered">In the dead-letter table.</param>
/// <param name="Parked">
/// Undelivered and not claimed, after a dead letter of their aggregate: they wait until an operator retries or skips it.
/// <c>Pending + InFlight + Parked</c> is every undelivered message.
/// </param>
public sealed record OutboxCounts(long Pending, long InFlight, long DeadLettered, long Parked = 0);

/// <summary>A message the dispatcher gave up on after its last attempt.</summary>
/// <param name="Parked">The later undelivered messages of its aggregate that it holds back (not counting any claimed right now).</param>
public sealed record OutboxDeadLetter(
    long Id, string EventId, string AggregateId, int Sequence, string? EventType, int Attempts, string? LastError, DateTimeOffset FailedAt,
    long Parked = 0);

/// <summary>A dead letter an operator dropped: never delivered; kept with why and when (<c>orderses_outbox_skipped</c>).</summary>
public sealed record OutboxSkippedMessage(
    long Id, string EventId, string AggregateId, int Sequence, string? EventType, int Attempts, string? LastError, DateTimeOffset FailedAt,
    string Reason, DateTimeOffset SkippedAt);

/// <summary>What a retry or skip of a dead letter came to.</summary>
public enum DeadLetterResult
{
    /// <summary>Done: retried (back in the outbox) or skipped (recorded); the aggregate's parked messages follow.</summary>
    Done,
    /// <summary>No dead letter has that id (never one, or already retried by another call).</summary>
    NotFound,
    /// <summary>It was skipped already (by this or another call): nothing changed; <see cref="DeadLetterOutcome.Skipped"/> says when and why.</summary>
    AlreadySkipped,
    /// <summary>
    /// Retry only: an earlier dead letter of the same aggregate (<see cref="DeadLetterOutcome.EarlierDeadLetterId"/>) must be
    /// retried or skipped first, else this one would go out before it. Arises on databases dead-lettered before parking.
    /// </summary>
    EarlierDeadLetter,
}

/// <summary>The result of <see cref="IOutboxMonitor.RetryDeadLetterAsync"/> or <see cref="IOutboxMonitor.SkipDeadLetterAsync"/>.</summary>
public sealed record DeadLetterOutcome(DeadLetterResult Result, OutboxSkippedMessage? Skipped = null, long? EarlierDeadLetterId = null)
{
    public static readonly DeadLetterOutcome Done = new(DeadLetterResult.Done);
    public static readonly DeadLetterOutcome NotFound = new(DeadLetterResult.NotFound);
}

/// <summary>
/// The operator's view of the outbox (exposed under <c>/admin/outbox</c>): counts, dead letters with what they hold back,
/// skipped messages, and settling a dead letter. Retry and skip move the dead-letter row in one transaction, so of two
/// concurrent calls on one id (from any replicas) exactly one changes something.
/// </summary>
public interface IOutboxMonitor
{
    Task<OutboxCounts> GetCountsAsync(CancellationToken cancellationToken = default);

    /// <summary>Dead letters, oldest failure first, at most <paramref name="limit"/>, each with the messages it holds back.</summary>
    Task<IReadOnlyList<OutboxDeadLetter>> GetDeadLettersAsync(int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>Skipped messages, most recently skipped first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<OutboxSkippedMessage>> GetSkippedAsync(int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves a dead letter back to the outbox under its id with its attempts reset: it is delivered first, then the
    /// messages it parked, in sequence order. Refused while an earlier dead letter of its aggregate waits.
    /// </summary>
    Task<DeadLetterOutcome> RetryDeadLetterAsync(long id, CancellationToken cancellationToken = default);

    /// <summary>Drops a dead letter for good, recording <paramref name="reason"/> and the time; the messages it parked then go out.</summary>
    Task<DeadLetterOutcome> SkipDeadLetterAsync(long id, string reason, CancellationToken cancellationToken = default);
}
