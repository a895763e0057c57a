namespace OrdersEs.Domain.EventSourcing;

/// <summary>
/// An aggregate that can be snapshotted: it captures its state as a plain record and restores from one.
/// Raise <see cref="SnapshotSchemaVersion"/> whenever <typeparamref name="TState"/> changes shape, so stored
/// snapshots of the old shape are ignored and the aggregate is rebuilt from its events instead.
/// </summary>
public interface ISnapshotCapable<TState> where TState : class
{
    static abstract int SnapshotSchemaVersion { get; }

    TState CaptureSnapshot();

    void RestoreSnapshot(TState state);
}
