using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Diagnostics;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Hosting;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>Registers projections and what runs them: checkpoints, leases, parked events, wake-ups and their health.</summary>
public static class ProjectionServiceCollectionExtensions
{
    /// <summary>
    /// Runs <typeparamref name="TProjection"/> as a hosted <see cref="ProjectionRunner"/> (one active instance per
    /// projection across the service's replicas when the store is PostgreSQL). Adding the same projection twice
    /// (by convention and by hand) runs it once.
    /// </summary>
    public static IServiceCollection AddProjection<TProjection>(this IServiceCollection services) where TProjection : class, IProjection
    {
        if (services.Any(d => d.ServiceType == typeof(ProjectionRegistration<TProjection>))) return services;
        services.AddSingleton<ProjectionRegistration<TProjection>>();
        services.TryAddSingleton<TProjection>();
        services.AddSingleton<IHostedService>(provider =>
            ActivatorUtilities.CreateInstance<ProjectionRunner>(provider, provider.GetRequiredService<TProjection>()));
        return services;
    }

    internal static IServiceCollection AddProjectionInfrastructure(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(new ProjectionOptions());
        ConfigurationValues.EnsureConvertible<ProjectionHealthOptions>(configuration, ProjectionHealthOptions.SectionKey);
        services.AddOptions<ProjectionHealthOptions>().Bind(configuration.GetSection(ProjectionHealthOptions.SectionKey)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ProjectionHealthOptions>, ProjectionHealthOptionsValidator>());
        ConfigurationValues.EnsureConvertible<ReadModelBuildOptions>(configuration, ProjectionHealthOptions.SectionKey);
        services.AddOptions<ReadModelBuildOptions>().Bind(configuration.GetSection(ProjectionHealthOptions.SectionKey)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReadModelBuildOptions>, ReadModelBuildOptionsValidator>());
        // Blue/green builds of the read models: started by a deployment of a new version or by an operator's rebuild.
        services.AddHostedService<ReadModelBuilder>();
        // Parked events live beside the checkpoints, in the database that hosts the read models.
        services.TryAddSingleton<IProjectionSkipStore, EfCoreProjectionSkipStore>();
        services.AddSingleton<ProjectionMonitor>();
        services.AddSingleton<EfCoreCheckpointStore>();
        services.AddSingleton<IProjectionLease>(provider =>
            SharedPostgresEventDatabase(provider) is { } database
                ? new PostgresProjectionLease(database.Connection.ConnectionString, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5))
                : new InProcessProjectionLease());
        // Wake-ups between replicas travel over LISTEN/NOTIFY where they share a PostgreSQL event store.
        services.AddSingleton<IHostedService>(provider =>
            SharedPostgresEventDatabase(provider) is { } database
                ? ActivatorUtilities.CreateInstance<PostgresEventNotifications>(provider, database.Connection.ConnectionString)
                : DisabledHostedService.Instance);
        // Degraded, never Unhealthy: a stuck projection needs an operator, not a restart or less traffic.
        services.AddHealthChecks().AddCheck<ProjectionHealthCheck>(
            ProjectionHealthCheck.Name, HealthStatus.Degraded, [HealthTags.Ready], TimeSpan.FromSeconds(5));
        return services;
    }

    private static EventStoreDatabase? SharedPostgresEventDatabase(IServiceProvider provider) =>
        provider.GetRequiredService<EventSourcingSettings>().Store is { Provider: StoreProvider.EfCore, Connection.Provider: DatabaseProvider.PostgreSql }
            ? provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events)
            : null;

    // Marks a projection as registered, so a second AddProjection of the same type adds no second runner.
    private sealed class ProjectionRegistration<TProjection>;
}
