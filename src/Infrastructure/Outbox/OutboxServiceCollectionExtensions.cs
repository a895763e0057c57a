using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Diagnostics;
using OrdersEs.Infrastructure.Hosting;
using OrdersEs.Infrastructure.Messaging;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Outbox;

/// <summary>Registers the durable outbox: its store and operator view, and the dispatcher when an event bus is configured.</summary>
internal static class OutboxServiceCollectionExtensions
{
    /// <summary>
    /// The dispatcher is decided when the host starts, so <c>AddEventBus</c> may come before or after: with no
    /// <see cref="EventSourcingPublisher"/> (<c>pyfly:eda:provider=none</c>) there is no dispatcher; on EF Core the
    /// append still writes outbox rows, which wait (never pruned, being undelivered) until a bus is configured; the
    /// in-memory store then keeps no outbox at all.
    /// </summary>
    public static IServiceCollection AddOutbox(this IServiceCollection services, IConfiguration configuration)
    {
        ConfigurationValues.EnsureConvertible<OutboxOptions>(configuration, OutboxOptions.SectionKey);
        services.AddOptions<OutboxOptions>().Bind(configuration.GetSection(OutboxOptions.SectionKey)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutboxOptions>, OutboxOptionsValidator>());
        services.TryAddSingleton<InMemoryOutbox>();
        services.TryAddSingleton<IOutboxStore>(provider =>
            provider.GetRequiredService<EventSourcingSettings>().Store.Provider == StoreProvider.EfCore
                ? ActivatorUtilities.CreateInstance<EfCoreOutboxStore>(provider, provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events))
                : provider.GetRequiredService<InMemoryOutbox>());
        services.TryAddSingleton(provider => (IOutboxMonitor)provider.GetRequiredService<IOutboxStore>());
        services.AddSingleton<IHostedService>(provider =>
            provider.GetService<EventSourcingPublisher>() is { } publisher
                ? ActivatorUtilities.CreateInstance<OutboxDispatcher>(provider, publisher, provider.GetRequiredService<IOptions<OutboxOptions>>().Value)
                : DisabledHostedService.Instance);
        // Degraded, never Unhealthy: a dead letter needs an operator, not a restart or less traffic.
        services.AddHealthChecks().AddCheck<OutboxHealthCheck>(
            OutboxHealthCheck.Name, HealthStatus.Degraded, [HealthTags.Ready], TimeSpan.FromSeconds(5));
        return services;
    }

    /// <summary>The in-memory store's outbox, only when something will drain it.</summary>
    public static InMemoryOutbox? InMemoryOutboxIfDispatched(IServiceProvider provider) =>
        provider.GetService<EventSourcingPublisher>() is null ? null : provider.GetRequiredService<InMemoryOutbox>();
}
