using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Diagnostics;

namespace OrdersEs.Infrastructure.Messaging;

/// <summary>Registers the event bus chosen by <c>pyfly:eda:provider</c> and, with it, the EDA bridge and the bus health check.</summary>
public static class MessagingServiceCollectionExtensions
{
    public const string ProviderKey = "pyfly:eda:provider";

    /// <summary>
    /// <c>memory</c> (default): <see cref="InMemoryEventPublisher"/>; <c>rabbitmq</c>: <see cref="RabbitMqEventPublisher"/>
    /// on <c>pyfly:eda:rabbitmq:url</c> (else <c>ConnectionStrings:RabbitMq</c>); <c>none</c>: no <see cref="IEventPublisher"/> and no <see cref="EventSourcingPublisher"/>.
    /// An unknown provider, a malformed URL or a blank destination throws <see cref="ConfigurationException"/> here, stopping start-up.
    /// </summary>
    public static IServiceCollection AddEventBus(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        var provider = configuration[ProviderKey];
        switch (string.IsNullOrWhiteSpace(provider) ? "memory" : provider.Trim().ToLowerInvariant())
        {
            case "memory":
                services.TryAddSingleton<InMemoryEventPublisher>();
                services.TryAddSingleton<IEventPublisher>(sp => sp.GetRequiredService<InMemoryEventPublisher>());
                break;
            case "rabbitmq":
                // pyfly's key first, then the .NET alias, then the local default.
                var key = string.IsNullOrWhiteSpace(configuration[RabbitMqOptions.UrlKey]) && !string.IsNullOrWhiteSpace(configuration[RabbitMqOptions.ConnectionStringKey])
                    ? RabbitMqOptions.ConnectionStringKey
                    : RabbitMqOptions.UrlKey;
                var url = configuration[key];
                var options = RabbitMqOptions.FromUrl(string.IsNullOrWhiteSpace(url) ? RabbitMqOptions.DefaultUrl : url, key);
                services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<RabbitMqEventPublisher>(sp, options));
                services.TryAddSingleton<IEventPublisher>(sp => sp.GetRequiredService<RabbitMqEventPublisher>());
                services.TryAddSingleton<IEventBusProbe>(sp => sp.GetRequiredService<RabbitMqEventPublisher>());
                break;
            case "none":
                return services;
            default:
                throw new ConfigurationException(ProviderKey, RabbitMqOptions.Redact(provider!), "unknown event bus provider",
                    "memory, rabbitmq, none (case-insensitive; default memory)");
        }

        var destination = configuration[EventSourcingPublisher.DestinationKey];
        if (destination is not null && string.IsNullOrWhiteSpace(destination))
        {
            throw new ConfigurationException(EventSourcingPublisher.DestinationKey, destination, "the exchange name is blank",
                $"an exchange name, or no value at all for the default '{EventSourcingPublisher.DefaultDestination}'");
        }
        var resolvedDestination = destination?.Trim() ?? EventSourcingPublisher.DefaultDestination;
        services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<EventSourcingPublisher>(sp, resolvedDestination));

        services.AddHealthChecks().AddCheck<EventBusHealthCheck>(
            EventBusHealthCheck.Name, HealthStatus.Unhealthy, [HealthTags.Ready], TimeSpan.FromSeconds(10));
        return services;
    }
}
