using Microsoft.Extensions.DependencyInjection;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Snapshots.EfCore;

namespace OrdersEs.Infrastructure.Snapshots;

/// <summary>Registers the <see cref="ISnapshotStore"/> of <c>pyfly:eventsourcing:snapshot:provider</c>.</summary>
internal static class SnapshotServiceCollectionExtensions
{
    public static IServiceCollection AddSnapshotStore(this IServiceCollection services)
    {
        services.AddSingleton<ISnapshotStore>(provider =>
            provider.GetRequiredService<EventSourcingSettings>().Snapshot.Provider == StoreProvider.EfCore
                ? ActivatorUtilities.CreateInstance<EfCoreSnapshotStore>(provider, provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Snapshots))
                : new InMemorySnapshotStore());
        return services;
    }
}
