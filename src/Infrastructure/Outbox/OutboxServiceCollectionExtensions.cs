using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Messaging;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Outbox;

/// <summary>Registers the durable outbox: its store and operator view, and the dispatcher when an event bus is configured.</summary>
internal static class OutboxServiceCollectionExtensions
{
    /// <summary>
    /// Called by <see cref="DependencyInjection.AddEventSourcing"/>. The dispatcher is decided when the host starts, so
    /// <c>AddEventBus</c> may come before or after: with no <see cref="EventSourcingPublisher"/> (<c>pyfly:eda:provider=none</c>)
    /// there is no dispatcher; on EF Core the trigger still writes outbox rows, which wait (never pruned, being undelivered)
    /// until a bus is configured; the in-memory store then keeps no outbox at all.
    /// </summary>
    public static IServiceCollection AddOutbox(this IServiceCollection services, IConfiguration configuration)
    {
        ConfigurationValues.EnsureConvertible<OutboxOptions>(configuration, OutboxOptions.SectionKey);
        services.AddOptions<OutboxOptions>().Bind(configuration.GetSection(OutboxOptions.SectionKey)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutboxOptions>, OutboxOptionsValidator>());
        services.TryAddSingleton(provider => new InMemoryOutbox(provider.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IOutboxStore>(provider =>
            provider.GetRequiredService<EventSourcingSettings>().Store.Provider == StoreProvider.EfCore
                ? new EfCoreOutboxStore(
                    provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events),
                    provider.GetRequiredService<TimeProvider>(),
                    provider.GetRequiredService<UpcasterChain>())
                : provider.GetRequiredService<InMemoryOutbox>());
        services.TryAddSingleton(provider => (IOutboxMonitor)provider.GetRequiredService<IOutboxStore>());
        services.AddSingleton<IHostedService>(provider =>
            provider.GetService<EventSourcingPublisher>() is { } publisher
                ? new OutboxDispatcher(
                    provider.GetRequiredService<IOutboxStore>(),
                    publisher,
                    provider.GetRequiredService<EventStoreSignal>(),
                    provider.GetRequiredService<IOptions<OutboxOptions>>().Value,
                    provider.GetRequiredService<TimeProvider>(),
                    provider.GetRequiredService<ILogger<OutboxDispatcher>>(),
                    BusProbe(provider.GetService<IEventPublisher>()))
                : new NoDispatcher());
        return services;
    }

    /// <summary>The in-memory store's outbox, only when something will drain it.</summary>
    public static InMemoryOutbox? InMemoryOutboxIfDispatched(IServiceProvider provider) =>
        provider.GetService<EventSourcingPublisher>() is null ? null : provider.GetRequiredService<InMemoryOutbox>();

    private static Func<CancellationToken, Task<bool>>? BusProbe(IEventPublisher? publisher) =>
        publisher is RabbitMqEventPublisher rabbit
            ? async cancellationToken => (await rabbit.ProbeAsync(cancellationToken).ConfigureAwait(false)).Reachable
            : null;

    private sealed class NoDispatcher : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.CompletedTask;
    }
}
