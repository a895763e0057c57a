using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.Tests.TestReadModel;
using Xunit;
using static OrdersEs.Infrastructure.Tests.Configuration.ConfigurationHarness;

namespace OrdersEs.Infrastructure.Tests.Configuration;

/// <summary>
/// Features are found once at start-up in the service's assemblies; the explicit registrations still work beside them.
/// The feature here is the tests' own (<see cref="Counter"/>, <see cref="CountersViewProjection"/>), so these hold with
/// or without the sample (whose discovery the sample's own tests check).
/// </summary>
public class FeatureConventionTests
{
    private static readonly System.Reflection.Assembly TestAssembly = typeof(Counter).Assembly;
    private static readonly System.Reflection.Assembly KernelAssembly = typeof(FeatureConventions).Assembly;

    private static ServiceProvider ProviderWith(Action<IServiceCollection>? after = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddEventSourcing(ConfigurationOf(("pyfly:eventsourcing:enabled", "true")), TestAssembly);
        after?.Invoke(services);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    private static ProjectionRunner[] Runners(IServiceProvider provider) => provider.GetServices<IHostedService>().OfType<ProjectionRunner>().ToArray();

    [Fact]
    public void The_test_feature_is_found_once_and_nothing_of_the_kernel_is_taken_for_one()
    {
        // The test assembly twice and the kernel's: each feature still comes once.
        var features = FeatureConventions.Find([TestAssembly, KernelAssembly, TestAssembly]);
        Assert.Equal([typeof(Counter)], features.Aggregates.Where(t => t.Assembly == TestAssembly));
        Assert.Equal([typeof(CountersViewProjection)], features.Projections.Where(t => t.Assembly == TestAssembly));
        Assert.Equal([typeof(CountersViewSchema)], features.ReadModelSchemas.Where(t => t.Assembly == TestAssembly));
        // The kernel's assembly holds features only under its ReadModels folder (the sample's read model, when there is one):
        // FunctionProjection implements IProjection too, but lives in the kernel.
        var fromKernel = features.Aggregates.Concat(features.Projections).Concat(features.ReadModelSchemas).Where(t => t.Assembly == KernelAssembly);
        Assert.All(fromKernel, t => Assert.Contains(".ReadModels.", t.Namespace + ".", StringComparison.Ordinal));
        Assert.DoesNotContain(typeof(FunctionProjection), features.Projections);
    }

    [Fact]
    public async Task Found_features_get_their_repository_runner_event_names_and_tables()
    {
        await using var provider = ProviderWith();
        Assert.NotNull(provider.GetRequiredService<EventSourcedRepository<Counter>>());
        Assert.Equal(CountersViewProjection.ProjectionName, Assert.Single(Runners(provider)).Projection.Name);
        Assert.Equal(typeof(ThingsCounted), provider.GetRequiredService<EventTypeRegistry>().Resolve(nameof(ThingsCounted)));
        Assert.IsType<CountersViewSchema>(Assert.Single(provider.GetServices<IReadModelSchema>()));
    }

    [Fact]
    public async Task The_read_model_tables_are_created_in_the_database_that_hosts_read_models_only()
    {
        // Memory mode: the private in-memory SQLite database holds test_counters_view; the kernel's context does not map it.
        await using var provider = ProviderWith();
        var database = provider.GetRequiredService<EventStoreDatabase>();
        await using (var db = await database.CreateContextAsync<CountersViewDbContext>())
            Assert.Equal(0, await db.Counters.CountAsync());
        await using var kernel = await database.CreateContextAsync();
        Assert.DoesNotContain(kernel.Model.GetEntityTypes(), e => e.GetTableName() == CountersViewSchema.TableName);
    }

    [Fact]
    public async Task Adding_a_found_projection_again_by_hand_runs_it_once()
    {
        await using var provider = ProviderWith(services => services.AddProjection<CountersViewProjection>().AddProjection<CountersViewProjection>());
        Assert.Single(Runners(provider));
    }

    [Fact]
    public async Task An_explicit_AddAggregate_replaces_the_convention_s_factory()
    {
        var made = 0;
        await using var provider = ProviderWith(services => services.AddAggregate(() =>
        {
            made++;
            return new Counter();
        }));
        var counters = provider.GetRequiredService<EventSourcedRepository<Counter>>();
        var counter = Counter.Start("c-1");
        counter.Count("S", 1);
        await counters.SaveAsync(counter);
        Assert.NotNull(await counters.LoadAsync("c-1"));
        Assert.True(made > 0);
    }
}
