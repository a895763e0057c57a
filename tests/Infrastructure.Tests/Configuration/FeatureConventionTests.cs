using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.ReadModels.Orders;
using Xunit;
using static OrdersEs.Infrastructure.Tests.Configuration.ConfigurationHarness;

namespace OrdersEs.Infrastructure.Tests.Configuration;

/// <summary>Features are found once at start-up in the service's assemblies; the explicit registrations still work beside them.</summary>
public class FeatureConventionTests
{
    private static readonly System.Reflection.Assembly[] ServiceAssemblies = [typeof(Order).Assembly, typeof(OrdersViewProjection).Assembly];

    private static ServiceProvider ProviderWith(Action<IServiceCollection>? after = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddEventSourcing(ConfigurationOf(("pyfly:eventsourcing:enabled", "true")), ServiceAssemblies);
        after?.Invoke(services);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    private static ProjectionRunner[] Runners(IServiceProvider provider) => provider.GetServices<IHostedService>().OfType<ProjectionRunner>().ToArray();

    [Fact]
    public void The_sample_feature_is_found_and_nothing_of_the_kernel_is_taken_for_one()
    {
        var features = FeatureConventions.Find(ServiceAssemblies);
        Assert.Equal([typeof(Order)], features.Aggregates);
        Assert.Equal([typeof(OrdersViewProjection)], features.Projections);
        Assert.Equal([typeof(OrdersViewSchema)], features.ReadModelSchemas);
        // FunctionProjection implements IProjection too, but lives in the kernel (Infrastructure, outside ReadModels).
        Assert.DoesNotContain(typeof(FunctionProjection), features.Projections);
    }

    [Fact]
    public async Task Found_features_get_their_repository_runner_event_names_and_tables()
    {
        await using var provider = ProviderWith();
        Assert.NotNull(provider.GetRequiredService<EventSourcedRepository<Order>>());
        Assert.Equal(OrdersViewProjection.ProjectionName, Assert.Single(Runners(provider)).Projection.Name);
        Assert.Equal(typeof(OrderPlaced), provider.GetRequiredService<EventTypeRegistry>().Resolve(nameof(OrderPlaced)));
        Assert.IsType<OrdersViewSchema>(Assert.Single(provider.GetServices<IReadModelSchema>()));
    }

    [Fact]
    public async Task The_read_model_tables_are_created_in_the_database_that_hosts_read_models_only()
    {
        // Memory mode: the private in-memory SQLite database holds orders_view; the kernel's context does not map it.
        await using var provider = ProviderWith();
        var database = provider.GetRequiredService<EventStoreDatabase>();
        await using (var db = await database.CreateContextAsync<OrdersViewDbContext>())
            Assert.Equal(0, await db.Orders.CountAsync());
        await using var kernel = await database.CreateContextAsync();
        Assert.DoesNotContain(kernel.Model.GetEntityTypes(), e => e.GetTableName() == OrdersViewSchema.Table);
    }

    [Fact]
    public async Task Adding_a_found_projection_again_by_hand_runs_it_once()
    {
        await using var provider = ProviderWith(services => services.AddProjection<OrdersViewProjection>().AddProjection<OrdersViewProjection>());
        Assert.Single(Runners(provider));
    }

    [Fact]
    public async Task An_explicit_AddAggregate_replaces_the_convention_s_factory()
    {
        var made = 0;
        await using var provider = ProviderWith(services => services.AddAggregate(() =>
        {
            made++;
            return new Order();
        }));
        var orders = provider.GetRequiredService<EventSourcedRepository<Order>>();
        var order = Order.Place("o-1", "c-1", "EUR", [new OrderLine("S", 1, 1)]);
        await orders.SaveAsync(order);
        Assert.NotNull(await orders.LoadAsync("o-1"));
        Assert.True(made > 0);
    }
}
