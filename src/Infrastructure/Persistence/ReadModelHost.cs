using OrdersEs.Infrastructure.Configuration;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>Which database holds the read models, and with them the checkpoints, parked events and idempotency keys.</summary>
public enum ReadModelPlacement
{
    /// <summary>The event store's database: a read model and its checkpoint then commit in one transaction with nothing in between.</summary>
    EventDatabase,

    /// <summary>Events in memory, snapshots on EF Core: the snapshots' database.</summary>
    SnapshotDatabase,

    /// <summary>
    /// Memory mode (neither store on EF Core): a private in-memory SQLite database, so read models keep the one
    /// EF Core code path; like the in-memory stores, it is gone when the process stops.
    /// </summary>
    PrivateInMemorySqlite,
}

/// <summary>The one place that decides where read models live.</summary>
public static class ReadModelHost
{
    /// <summary>The URL of the private database of <see cref="ReadModelPlacement.PrivateInMemorySqlite"/>.</summary>
    public const string InMemoryUrl = "sqlite:///:memory:";

    public static ReadModelPlacement Place(EventSourcingSettings settings) =>
        settings.Store.Provider == StoreProvider.EfCore ? ReadModelPlacement.EventDatabase
        : settings.Snapshot.Provider == StoreProvider.EfCore ? ReadModelPlacement.SnapshotDatabase
        : ReadModelPlacement.PrivateInMemorySqlite;
}
