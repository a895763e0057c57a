using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Diagnostics;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Idempotency;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.Snapshots;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>The event-sourcing module configured from the <c>pyfly:</c> keys, and the aggregates it stores.</summary>
public static class EventSourcingServiceCollectionExtensions
{
    /// <summary>
    /// Registers event sourcing as configured under <c>pyfly:eventsourcing</c>, and the features of
    /// <paramref name="serviceAssemblies"/> by convention (<see cref="FeatureConventions"/>). With <c>enabled</c> false
    /// (the default) it registers nothing at all, as pyfly does. Values of the wrong type throw
    /// <see cref="ConfigurationException"/> here; values that cannot work stop start-up (<c>ValidateOnStart</c>); both name the key.
    /// </summary>
    public static IServiceCollection AddEventSourcing(this IServiceCollection services, IConfiguration configuration, params Assembly[] serviceAssemblies)
    {
        if (!IsEnabled(configuration)) return services;
        AddSettings(services, configuration);
        services.TryAddSingleton(TimeProvider.System);
        foreach (var assembly in serviceAssemblies) services.AddSingleton(new EventAssembly(assembly));
        services.AddSingleton(provider =>
        {
            var registry = new EventTypeRegistry();
            foreach (var assembly in provider.GetServices<EventAssembly>().Select(e => e.Assembly).Distinct()) registry.RegisterAssembly(assembly);
            return registry;
        });
        services.AddSingleton<EventSerializer>();
        services.AddSingleton<UpcasterChain>();

        services.AddEventStoreDatabases()
            .AddEventStore()
            .AddSnapshotStore()
            .AddProjectionInfrastructure(configuration)
            .AddOutbox(configuration)
            .AddIdempotency()
            .AddEventSourcingDiagnostics();
        FeatureConventions.Register(services, serviceAssemblies);
        return services;
    }

    /// <summary>
    /// Registers <see cref="EventSourcedRepository{T}"/> as a singleton over the configured event and snapshot stores,
    /// with the event types of <typeparamref name="T"/>'s assembly; it replaces one registered by convention.
    /// Resolving it while event sourcing is disabled fails with a message naming <c>pyfly:eventsourcing:enabled</c>.
    /// </summary>
    public static IServiceCollection AddAggregate<T>(this IServiceCollection services, Func<T> factory) where T : AggregateRoot
    {
        services.RemoveAll<EventSourcedRepository<T>>();
        services.AddSingleton(new EventAssembly(typeof(T).Assembly));
        services.AddSingleton(provider =>
        {
            var store = provider.GetService<IEventStore>() ?? throw new InvalidOperationException(
                $"EventSourcedRepository<{typeof(T).Name}> needs event sourcing: set {EventSourcingOptions.EnabledKey} to true.");
            return ActivatorUtilities.CreateInstance<EventSourcedRepository<T>>(provider, store, factory);
        });
        return services;
    }

    /// <summary><see cref="AddAggregate{T}(IServiceCollection, Func{T})"/> with the aggregate's parameterless constructor.</summary>
    public static IServiceCollection AddAggregate<T>(this IServiceCollection services) where T : AggregateRoot, new() =>
        services.AddAggregate(() => new T());

    private static void AddSettings(IServiceCollection services, IConfiguration configuration)
    {
        ConfigurationValues.EnsureConvertible<EventSourcingOptions>(configuration, EventSourcingOptions.SectionKey, name => name.ToLowerInvariant());
        services.AddOptions<EventSourcingOptions>()
            .Bind(configuration.GetSection(EventSourcingOptions.SectionKey))
            .Configure(options =>
            {
                options.DataRelationalUrl = configuration[EventSourcingOptions.DataRelationalUrlKey];
                options.EventStoreConnectionString = configuration[EventSourcingOptions.ConnectionStringKey];
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EventSourcingOptions>, EventSourcingOptionsValidator>());
        services.AddSingleton(provider => EventSourcingSettings.Resolve(provider.GetRequiredService<IOptions<EventSourcingOptions>>().Value));
        services.AddSingleton(provider => provider.GetRequiredService<EventSourcingSettings>().Repository);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EventSourcingStartupLog>());
    }

    private static bool IsEnabled(IConfiguration configuration)
    {
        var value = configuration[EventSourcingOptions.EnabledKey];
        if (string.IsNullOrWhiteSpace(value)) return false;
        return bool.TryParse(value.Trim(), out var enabled)
            ? enabled
            : throw new ConfigurationException(EventSourcingOptions.EnabledKey, value, "not a boolean", "'true' or 'false', case-insensitive (default false)");
    }

    // An assembly whose concrete DomainEvent types are registered by name.
    private sealed record EventAssembly(Assembly Assembly);
}
