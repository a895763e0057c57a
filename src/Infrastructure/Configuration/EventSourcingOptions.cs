namespace OrdersEs.Infrastructure.Configuration;

/// <summary>The <c>pyfly:eventsourcing</c> section as configured; <see cref="EventSourcingSettings"/> is what it resolves to.</summary>
public sealed class EventSourcingOptions
{
    public const string SectionKey = "pyfly:eventsourcing";
    public const string EnabledKey = SectionKey + ":enabled";
    public const string StoreProviderKey = SectionKey + ":store:provider";
    public const string StoreUrlKey = SectionKey + ":store:url";
    public const string SnapshotProviderKey = SectionKey + ":snapshot:provider";
    public const string SnapshotUrlKey = SectionKey + ":snapshot:url";
    public const string SnapshotIntervalKey = SectionKey + ":snapshot:interval";
    public const string DataRelationalUrlKey = "pyfly:data:relational:url";

    /// <summary>
    /// The .NET alias (what Aspire and other .NET tooling hand a service): used when no <c>pyfly:</c> URL is set.
    /// An ADO.NET connection string (PostgreSQL <c>Host=...</c>, SQLite <c>Data Source=...</c>) or a URL.
    /// </summary>
    public const string ConnectionStringKey = "ConnectionStrings:EventStore";

    /// <summary>The URL both stores use when neither their own url nor <c>pyfly:data:relational:url</c> is set.</summary>
    public const string DefaultUrl = "sqlite+aiosqlite:///./app.db";

    /// <summary><c>pyfly:eventsourcing:enabled</c>: whether the module is registered at all.</summary>
    public bool Enabled { get; set; }

    /// <summary><c>pyfly:eventsourcing:store</c>.</summary>
    public StoreOptions Store { get; set; } = new();

    /// <summary><c>pyfly:eventsourcing:snapshot</c>.</summary>
    public SnapshotOptions Snapshot { get; set; } = new();

    /// <summary>The value of <c>pyfly:data:relational:url</c>, outside this section: the shared fallback URL.</summary>
    public string? DataRelationalUrl { get; set; }

    /// <summary>The value of <c>ConnectionStrings:EventStore</c>: the fallback below every <c>pyfly:</c> URL.</summary>
    public string? EventStoreConnectionString { get; set; }
}

/// <summary><c>pyfly:eventsourcing:store</c>: where events are appended.</summary>
public class StoreOptions
{
    /// <summary><c>memory</c> (default) or <c>efcore</c> (alias <c>sqlalchemy</c>).</summary>
    public string? Provider { get; set; }

    /// <summary>SQLAlchemy URL or ADO.NET connection string; unset falls back to <c>pyfly:data:relational:url</c>.</summary>
    public string? Url { get; set; }
}

/// <summary><c>pyfly:eventsourcing:snapshot</c>: where snapshots are kept, and how often they are taken.</summary>
public sealed class SnapshotOptions : StoreOptions
{
    /// <summary>A snapshot is taken whenever a save crosses a multiple of this many events; must be above 0.</summary>
    public int Interval { get; set; } = 100;
}
