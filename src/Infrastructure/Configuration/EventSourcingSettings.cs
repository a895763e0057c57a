using System.Globalization;

using Microsoft.Extensions.Options;

using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Configuration;

/// <summary>One store as resolved from configuration: its provider and, for EF Core, its parsed connection.</summary>
/// <param name="UrlKey">The key the URL was read from (after the fallback chain); null when it came from the default.</param>
public sealed record ResolvedStore(StoreProvider Provider, StoreConnection? Connection, string? UrlKey)
{
    /// <summary>A log-safe description: the provider and, for EF Core, the connection with its password masked.</summary>
    public override string ToString() => Connection is null ? $"{Provider}" : $"{Provider} ({Connection})";
}

/// <summary>
/// The event-sourcing configuration after defaults, the URL fallback chain and parsing: what the services are built from.
/// </summary>
public sealed record EventSourcingSettings(ResolvedStore Store, ResolvedStore Snapshot, RepositoryOptions Repository)
{
    /// <summary>Whether events and snapshots live in the same relational database (and so share one <c>EventStoreDatabase</c>).</summary>
    public bool SnapshotsShareEventDatabase =>
        Store.Connection is not null && Store.Connection == Snapshot.Connection;

    /// <summary>Resolves the options; throws <see cref="ConfigurationException"/> naming the first bad key.</summary>
    public static EventSourcingSettings Resolve(EventSourcingOptions options)
    {
        var storeUrl = EffectiveUrl(options, options.Store, EventSourcingOptions.StoreUrlKey);
        var snapshotUrl = EffectiveUrl(options, options.Snapshot, EventSourcingOptions.SnapshotUrlKey);
        var store = ResolveStore(EventSourcingOptions.StoreProviderKey, options.Store.Provider, storeUrl);
        var snapshot = ResolveStore(EventSourcingOptions.SnapshotProviderKey, options.Snapshot.Provider, snapshotUrl);

        // The same URL read twice names the same database, also sqlite:///:memory:, of which every parse is a new one.
        if (store.Connection is not null && snapshot.Connection is not null
            && (string.Equals(storeUrl.Url, snapshotUrl.Url, StringComparison.Ordinal) || StoreUrl.SameDatabase(store.Connection, snapshot.Connection)))
        {
            snapshot = snapshot with { Connection = store.Connection };
        }

        if (options.Snapshot.Interval <= 0)
        {
            throw new ConfigurationException(EventSourcingOptions.SnapshotIntervalKey,
                options.Snapshot.Interval.ToString(CultureInfo.InvariantCulture),
                "the snapshot interval must be greater than 0", "a whole number of events, 1 or more (default 100)");
        }
        return new EventSourcingSettings(store, snapshot, new RepositoryOptions { SnapshotInterval = options.Snapshot.Interval });
    }

    private static ResolvedStore ResolveStore(string providerKey, string? providerName, (string Key, string Url, bool IsDefault) url)
    {
        var provider = StoreProviderName.Parse(providerKey, providerName);
        if (provider == StoreProvider.Memory) return new ResolvedStore(provider, null, null);
        return new ResolvedStore(provider, StoreUrl.Parse(url.Key, url.Url), url.IsDefault ? null : url.Key);
    }

    /// <summary>
    /// The store's own url, else <c>pyfly:data:relational:url</c>, else <c>ConnectionStrings:EventStore</c>, else the
    /// SQLite default (reported under the store's key).
    /// </summary>
    private static (string Key, string Url, bool IsDefault) EffectiveUrl(EventSourcingOptions options, StoreOptions store, string urlKey) =>
        !string.IsNullOrWhiteSpace(store.Url) ? (urlKey, store.Url, false)
        : !string.IsNullOrWhiteSpace(options.DataRelationalUrl) ? (EventSourcingOptions.DataRelationalUrlKey, options.DataRelationalUrl, false)
        : !string.IsNullOrWhiteSpace(options.EventStoreConnectionString) ? (EventSourcingOptions.ConnectionStringKey, options.EventStoreConnectionString, false)
        : (urlKey, EventSourcingOptions.DefaultUrl, true);
}

/// <summary>Runs <see cref="EventSourcingSettings.Resolve"/> as options validation, so <c>ValidateOnStart</c> stops a bad configuration.</summary>
internal sealed class EventSourcingOptionsValidator : IValidateOptions<EventSourcingOptions>
{
    public ValidateOptionsResult Validate(string? name, EventSourcingOptions options)
    {
        try
        {
            EventSourcingSettings.Resolve(options);
            return ValidateOptionsResult.Success;
        }
        catch (ConfigurationException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
