using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Diagnostics;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>Service keys of the <see cref="EventStoreDatabase"/> each store runs on (one instance when both name the same database).</summary>
public static class EventStoreDatabaseKeys
{
    public const string Events = EventSourcingOptions.StoreUrlKey;
    public const string Snapshots = EventSourcingOptions.SnapshotUrlKey;
}

/// <summary>
/// Registers the relational databases: keyed by store (<see cref="EventStoreDatabaseKeys"/>), and unkeyed the one that
/// hosts the read models (with their checkpoints, parked events and idempotency keys), as <see cref="ReadModelHost"/> places it.
/// </summary>
internal static class PersistenceServiceCollectionExtensions
{
    public static IServiceCollection AddEventStoreDatabases(this IServiceCollection services)
    {
        services.AddKeyedSingleton(EventStoreDatabaseKeys.Events, (provider, _) => new EventStoreDatabase(
            RequireConnection(Settings(provider).Store, EventSourcingOptions.StoreProviderKey),
            ReadModelsIfHostedOn(provider, ReadModelPlacement.EventDatabase)));
        services.AddKeyedSingleton(EventStoreDatabaseKeys.Snapshots, (provider, _) => Settings(provider).SnapshotsShareEventDatabase
            ? provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events)
            : new EventStoreDatabase(
                RequireConnection(Settings(provider).Snapshot, EventSourcingOptions.SnapshotProviderKey),
                ReadModelsIfHostedOn(provider, ReadModelPlacement.SnapshotDatabase)));
        services.AddSingleton(provider => ReadModelHost.Place(Settings(provider)) switch
        {
            ReadModelPlacement.EventDatabase => provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events),
            ReadModelPlacement.SnapshotDatabase => provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Snapshots),
            _ => new EventStoreDatabase(StoreUrl.Parse(EventSourcingOptions.StoreUrlKey, ReadModelHost.InMemoryUrl),
                provider.GetServices<IReadModelSchema>()),
        });

        // Readiness: every database a store or the read models use answers a query.
        services.AddHealthChecks().Add(new HealthCheckRegistration(DatabaseHealthCheck.Name, provider =>
        {
            List<EventStoreDatabase> databases = [provider.GetRequiredService<EventStoreDatabase>()];
            if (Settings(provider).Snapshot.Provider == StoreProvider.EfCore)
                databases.Add(provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Snapshots));
            return new DatabaseHealthCheck(databases.Distinct().ToArray());
        }, HealthStatus.Unhealthy, [HealthTags.Ready], TimeSpan.FromSeconds(5)));
        return services;
    }

    private static EventSourcingSettings Settings(IServiceProvider provider) => provider.GetRequiredService<EventSourcingSettings>();

    private static IEnumerable<IReadModelSchema>? ReadModelsIfHostedOn(IServiceProvider provider, ReadModelPlacement placement) =>
        ReadModelHost.Place(Settings(provider)) == placement ? provider.GetServices<IReadModelSchema>() : null;

    private static StoreConnection RequireConnection(ResolvedStore store, string providerKey) =>
        store.Connection ?? throw new InvalidOperationException($"No relational database is configured: {providerKey} is '{store.Provider}', not 'efcore'.");
}
