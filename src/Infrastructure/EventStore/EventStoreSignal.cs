namespace OrdersEs.Infrastructure.EventStore;

/// <summary>
/// Wakes everything that follows the global order (projection runners, the outbox dispatcher) as soon as an
/// append commits in this process, or another instance announces one; waiters fall back to polling on a timeout.
/// </summary>
public sealed class EventStoreSignal
{
    private TaskCompletionSource _next = NewSource();
    private TaskCompletionSource _nextLocalAppend = NewSource();

    /// <summary>Announces new events committed elsewhere (another instance): every current waiter wakes.</summary>
    public void Notify() => Interlocked.Exchange(ref _next, NewSource()).TrySetResult();

    /// <summary>Announces an append committed by this process: wakes waiters, and the notifier that tells other instances.</summary>
    public void NotifyAppended()
    {
        Notify();
        Interlocked.Exchange(ref _nextLocalAppend, NewSource()).TrySetResult();
    }

    /// <summary>
    /// Completes at the next <see cref="Notify"/> after this call. Take it before looking for work, then wait on it
    /// (<see cref="WaitAsync"/>) when none was found: an append in between is not missed.
    /// </summary>
    public Task NextNotification => Volatile.Read(ref _next).Task;

    /// <summary>Completes at the next append of this process after this call; take it before acting, as above.</summary>
    public Task NextLocalAppend => Volatile.Read(ref _nextLocalAppend).Task;

    /// <summary>
    /// Waits for a notification taken earlier (or any task), at most <paramref name="timeout"/>; true when it came.
    /// A timeout throws nothing: the runners wait a few milliseconds at a time, and a thrown exception per wait costs CPU.
    /// </summary>
    public static async Task<bool> WaitAsync(Task notification, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        if (timeout > TimeSpan.Zero && !notification.IsCompleted)
        {
            await notification.WaitAsync(timeout, timeProvider, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            cancellationToken.ThrowIfCancellationRequested();
        }
        return notification.IsCompleted;
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
