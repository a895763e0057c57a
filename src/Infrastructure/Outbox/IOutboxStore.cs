using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Outbox;

/// <summary>
/// One claimed outbox message: its row id, the event it announces and the attempts so far. The envelope is null when
/// the event row is gone, or when it cannot be decoded (<paramref name="Unreadable"/> then says why).
/// </summary>
public sealed record OutboxMessage(long Id, string EventId, string AggregateId, int Sequence, int Attempts, StoredEventEnvelope? Envelope,
    string? Unreadable = null);

/// <summary>
/// Where undelivered messages wait (a table written in the append's transaction, or memory), as the
/// <see cref="OutboxDispatcher"/> uses it: claim a batch under a lease, then settle each message.
/// </summary>
public interface IOutboxStore
{
    /// <summary>
    /// Claims up to <paramref name="batchSize"/> due messages for <paramref name="owner"/> until the lease ends, in id order,
    /// never a message whose aggregate has an earlier message in flight, waiting for a retry or dead-lettered (parked).
    /// </summary>
    Task<IReadOnlyList<OutboxMessage>> ClaimAsync(string owner, int batchSize, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>
    /// Extends <paramref name="owner"/>'s claims on <paramref name="ids"/> to <paramref name="lease"/> from now, while the
    /// dispatcher that took them is still working on them; returns how many it still held (undelivered and not taken over).
    /// </summary>
    Task<int> RenewClaimsAsync(string owner, IReadOnlyCollection<long> ids, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Marks messages delivered (whoever claims them now: a delivery is a fact).</summary>
    Task MarkDeliveredAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken);

    /// <summary>Counts one failed attempt and schedules the next at <paramref name="nextAttemptAt"/>, if <paramref name="owner"/> still holds the claim.</summary>
    Task RetryLaterAsync(string owner, long id, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken);

    /// <summary>
    /// Counts the final failed attempt and moves the message to the dead letters in one transaction, if <paramref name="owner"/>
    /// still holds the claim; from then on the later messages of its aggregate are parked.
    /// </summary>
    Task DeadLetterAsync(string owner, long id, string error, CancellationToken cancellationToken);

    /// <summary>Gives claims back without counting an attempt (not tried, or the bus was down).</summary>
    Task ReleaseAsync(string owner, IReadOnlyCollection<long> ids, CancellationToken cancellationToken);

    /// <summary>Deletes messages delivered before <paramref name="deliveredBefore"/>; returns how many.</summary>
    Task<int> PruneDeliveredAsync(DateTimeOffset deliveredBefore, CancellationToken cancellationToken);
}
