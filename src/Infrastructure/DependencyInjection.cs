using System.Reflection;

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Diagnostics;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Idempotency;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.Snapshots;
using OrdersEs.Infrastructure.Snapshots.EfCore;

namespace OrdersEs.Infrastructure;

/// <summary>Service keys of the <see cref="EventStoreDatabase"/> each store runs on (one instance when both name the same database).</summary>
public static class EventStoreDatabaseKeys
{
    public const string Events = EventSourcingOptions.StoreUrlKey;
    public const string Snapshots = EventSourcingOptions.SnapshotUrlKey;
}

/// <summary>The Infrastructure layer's registrations: the event-sourcing module configured from the <c>pyfly:</c> keys.</summary>
public static class DependencyInjection
{
    /// <summary>
    /// Registers event sourcing as configured under <c>pyfly:eventsourcing</c>. With <c>enabled</c> false (the default)
    /// it registers nothing at all, as pyfly does. Values of the wrong type throw <see cref="ConfigurationException"/> here;
    /// values that cannot work stop start-up (<c>ValidateOnStart</c>); both name the key.
    /// </summary>
    /// <param name="eventAssemblies">Assemblies whose concrete <see cref="DomainEvent"/> types are registered by name.</param>
    public static IServiceCollection AddEventSourcing(this IServiceCollection services, IConfiguration configuration, params Assembly[] eventAssemblies)
    {
        if (!IsEnabled(configuration)) return services;
        ConfigurationValues.EnsureConvertible<EventSourcingOptions>(configuration, EventSourcingOptions.SectionKey, name => name.ToLowerInvariant());

        services.AddOptions<EventSourcingOptions>()
            .Bind(configuration.GetSection(EventSourcingOptions.SectionKey))
            .Configure(options => options.DataRelationalUrl = configuration[EventSourcingOptions.DataRelationalUrlKey])
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EventSourcingOptions>, EventSourcingOptionsValidator>());
        services.AddSingleton(provider => EventSourcingSettings.Resolve(provider.GetRequiredService<IOptions<EventSourcingOptions>>().Value));
        services.AddSingleton(provider => provider.GetRequiredService<EventSourcingSettings>().Repository);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EventSourcingStartupLog>());

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(_ =>
        {
            var registry = new EventTypeRegistry();
            foreach (var assembly in eventAssemblies) registry.RegisterAssembly(assembly);
            return registry;
        });
        services.AddSingleton<EventSerializer>();
        services.AddSingleton(provider => new UpcasterChain(provider.GetServices<IEventUpcaster>()));
        services.AddSingleton<EnvelopeFactory>();
        services.AddSingleton<EventStoreSignal>();

        services.AddKeyedSingleton(EventStoreDatabaseKeys.Events, (provider, _) =>
            new EventStoreDatabase(RequireConnection(provider.GetRequiredService<EventSourcingSettings>().Store, EventSourcingOptions.StoreProviderKey)));
        services.AddKeyedSingleton(EventStoreDatabaseKeys.Snapshots, (provider, _) =>
        {
            var settings = provider.GetRequiredService<EventSourcingSettings>();
            return settings.SnapshotsShareEventDatabase
                ? provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events)
                : new EventStoreDatabase(RequireConnection(settings.Snapshot, EventSourcingOptions.SnapshotProviderKey));
        });
        // Unkeyed, the database is the event store's (where the outbox, checkpoints and read model live); else
        // the snapshots'; with neither on EF Core, a private in-memory SQLite database holds the read model.
        services.AddSingleton(provider =>
        {
            var settings = provider.GetRequiredService<EventSourcingSettings>();
            return settings.Store.Provider == StoreProvider.EfCore ? provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events)
                : settings.Snapshot.Provider == StoreProvider.EfCore ? provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Snapshots)
                : new EventStoreDatabase(StoreUrl.Parse(EventSourcingOptions.StoreUrlKey, "sqlite:///:memory:"));
        });

        services.AddSingleton<IEventStore>(provider =>
            provider.GetRequiredService<EventSourcingSettings>().Store.Provider switch
            {
                StoreProvider.EfCore => new EfCoreEventStore(
                    provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events),
                    provider.GetRequiredService<EnvelopeFactory>(),
                    provider.GetRequiredService<UpcasterChain>(),
                    provider.GetRequiredService<EventStoreSignal>()),
                _ => new InMemoryEventStore(
                    provider.GetRequiredService<EnvelopeFactory>(),
                    provider.GetRequiredService<UpcasterChain>(),
                    provider.GetRequiredService<EventStoreSignal>(),
                    OutboxServiceCollectionExtensions.InMemoryOutboxIfDispatched(provider)),
            });
        services.AddSingleton<ISnapshotStore>(provider =>
            provider.GetRequiredService<EventSourcingSettings>().Snapshot.Provider switch
            {
                StoreProvider.EfCore => new EfCoreSnapshotStore(provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Snapshots)),
                _ => new InMemorySnapshotStore(),
            });
        AddProjectionInfrastructure(services, configuration);
        services.AddOutbox(configuration);
        AddOperationalServices(services);
        return services;
    }

    /// <summary>
    /// Runs <typeparamref name="TProjection"/> as a hosted <see cref="ProjectionRunner"/> (one active instance per
    /// projection across the service's replicas when the store is PostgreSQL).
    /// </summary>
    public static IServiceCollection AddProjection<TProjection>(this IServiceCollection services) where TProjection : class, IProjection
    {
        services.AddSingleton<TProjection>();
        services.AddSingleton<IHostedService>(provider => new ProjectionRunner(
            provider.GetRequiredService<TProjection>(),
            provider.GetRequiredService<IEventStore>(),
            provider.GetRequiredService<EventStoreSignal>(),
            provider.GetRequiredService<IProjectionLease>(),
            provider.GetRequiredService<ProjectionMonitor>(),
            provider.GetRequiredService<ProjectionOptions>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetService<ILogger<ProjectionRunner>>(),
            provider.GetRequiredService<IProjectionSkipStore>()));
        return services;
    }

    private static void AddProjectionInfrastructure(IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(new ProjectionOptions());
        ConfigurationValues.EnsureConvertible<ProjectionHealthOptions>(configuration, ProjectionHealthOptions.SectionKey);
        services.AddOptions<ProjectionHealthOptions>().Bind(configuration.GetSection(ProjectionHealthOptions.SectionKey)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ProjectionHealthOptions>, ProjectionHealthOptionsValidator>());
        // Parked events live beside the checkpoints (in memory mode: the private SQLite database of the read model).
        services.TryAddSingleton<IProjectionSkipStore>(provider => new EfCoreProjectionSkipStore(provider.GetRequiredService<EventStoreDatabase>()));
        services.AddSingleton<ProjectionMonitor>();
        services.AddSingleton<EfCoreCheckpointStore>();
        services.AddSingleton<IProjectionLease>(provider =>
            SharedPostgresEventDatabase(provider) is { } database
                ? new PostgresProjectionLease(database.Connection.ConnectionString, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5))
                : new InProcessProjectionLease());
        // Wake-ups between replicas travel over LISTEN/NOTIFY where they share a PostgreSQL event store.
        services.AddSingleton<IHostedService>(provider =>
            SharedPostgresEventDatabase(provider) is { } database
                ? new PostgresEventNotifications(database.Connection.ConnectionString,
                    provider.GetRequiredService<EventStoreSignal>(), provider.GetRequiredService<ILogger<PostgresEventNotifications>>())
                : new NoBackgroundWork());
    }

    private static void AddOperationalServices(IServiceCollection services)
    {
        services.TryAddSingleton(new IdempotencyOptions());
        services.AddSingleton(provider => new IdempotencyStore(
            provider.GetRequiredService<EventStoreDatabase>(), provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<IdempotencyOptions>()));
        services.AddMetrics();
        services.AddHostedService<ProjectionLagMetrics>();
        // Readiness: every database a store or the read model uses answers a query.
        services.AddHealthChecks().Add(new HealthCheckRegistration(DatabaseHealthCheck.Name, provider =>
        {
            var settings = provider.GetRequiredService<EventSourcingSettings>();
            List<EventStoreDatabase> databases = [provider.GetRequiredService<EventStoreDatabase>()];
            if (settings.Snapshot.Provider == StoreProvider.EfCore)
                databases.Add(provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Snapshots));
            return new DatabaseHealthCheck(databases.Distinct().ToArray());
        }, HealthStatus.Unhealthy, [ReadyTag], TimeSpan.FromSeconds(5)));
        // Degraded, never Unhealthy: a stuck projection or a dead letter needs an operator, not a restart or less traffic.
        services.AddHealthChecks()
            .Add(new HealthCheckRegistration(ProjectionHealthCheck.Name, provider => new ProjectionHealthCheck(
                provider.GetRequiredService<ProjectionMonitor>(), provider.GetRequiredService<IOptions<ProjectionHealthOptions>>(),
                provider.GetRequiredService<TimeProvider>()), HealthStatus.Degraded, [ReadyTag], TimeSpan.FromSeconds(5)))
            .Add(new HealthCheckRegistration(OutboxHealthCheck.Name, provider => new OutboxHealthCheck(
                provider.GetRequiredService<IOutboxMonitor>()), HealthStatus.Degraded, [ReadyTag], TimeSpan.FromSeconds(5)));
    }

    /// <summary>The health-check tag of readiness checks (<c>/health/ready</c>).</summary>
    public const string ReadyTag = "ready";

    private static EventStoreDatabase? SharedPostgresEventDatabase(IServiceProvider provider) =>
        provider.GetRequiredService<EventSourcingSettings>().Store is { Provider: StoreProvider.EfCore, Connection.Provider: DatabaseProvider.PostgreSql }
            ? provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events)
            : null;

    private sealed class NoBackgroundWork : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.CompletedTask;
    }

    /// <summary>
    /// Registers <see cref="EventSourcedRepository{T}"/> as a singleton over the configured event and snapshot stores.
    /// Resolving it while event sourcing is disabled fails with a message naming <c>pyfly:eventsourcing:enabled</c>.
    /// </summary>
    public static IServiceCollection AddAggregate<T>(this IServiceCollection services, Func<T> factory) where T : AggregateRoot
    {
        services.AddSingleton(provider => new EventSourcedRepository<T>(
            provider.GetService<IEventStore>() ?? throw new InvalidOperationException(
                $"EventSourcedRepository<{typeof(T).Name}> needs event sourcing: set {EventSourcingOptions.EnabledKey} to true."),
            provider.GetRequiredService<EventSerializer>(),
            factory,
            provider.GetRequiredService<ISnapshotStore>(),
            provider.GetRequiredService<RepositoryOptions>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetService<ILogger<EventSourcedRepository<T>>>()));
        return services;
    }

    private static bool IsEnabled(IConfiguration configuration)
    {
        var value = configuration[EventSourcingOptions.EnabledKey];
        if (string.IsNullOrWhiteSpace(value)) return false;
        return bool.TryParse(value.Trim(), out var enabled)
            ? enabled
            : throw new ConfigurationException(EventSourcingOptions.EnabledKey, value, "not a boolean", "'true' or 'false', case-insensitive (default false)");
    }

    private static StoreConnection RequireConnection(ResolvedStore store, string providerKey) =>
        store.Connection ?? throw new InvalidOperationException($"No relational database is configured: {providerKey} is '{store.Provider}', not 'efcore'.");
}
