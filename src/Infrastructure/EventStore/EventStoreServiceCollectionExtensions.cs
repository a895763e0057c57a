using Microsoft.Extensions.DependencyInjection;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.EventStore;

/// <summary>Registers the <see cref="IEventStore"/> of <c>pyfly:eventsourcing:store:provider</c>, with what every append needs.</summary>
internal static class EventStoreServiceCollectionExtensions
{
    private static readonly ObjectFactory<InMemoryEventStore> InMemoryStore = ActivatorUtilities.CreateFactory<InMemoryEventStore>([typeof(InMemoryOutbox)]);

    public static IServiceCollection AddEventStore(this IServiceCollection services)
    {
        services.AddSingleton<EnvelopeFactory>();
        services.AddSingleton<EventStoreSignal>();
        services.AddSingleton<IEventStore>(provider =>
            provider.GetRequiredService<EventSourcingSettings>().Store.Provider == StoreProvider.EfCore
                ? ActivatorUtilities.CreateInstance<EfCoreEventStore>(provider, provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events))
                // The in-memory store keeps outbox entries only when a dispatcher will drain them (null: none).
                : InMemoryStore(provider, [OutboxServiceCollectionExtensions.InMemoryOutboxIfDispatched(provider)]));
        return services;
    }
}
