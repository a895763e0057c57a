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

namespace OrdersEs.Infrastructure.Tests.ReadModels.Orders;

/// <summary>
/// The sample is found by convention in the service's assemblies (the Domain and Infrastructure ones), with nothing of
/// the kernel beside it; features added later (dotnet new esaggregate) are found beside it, each once.
/// </summary>
public class SampleFeatureConventionTests
{
    private static readonly System.Reflection.Assembly[] ServiceAssemblies = [typeof(Order).Assembly, typeof(OrdersViewProjection).Assembly];

    [Fact]
    public void The_sample_feature_is_found_and_nothing_of_the_kernel_is_taken_for_one()
    {
        var features = FeatureConventions.Find(ServiceAssemblies);
        Assert.Single(features.Aggregates, t => t == typeof(Order));
        Assert.Single(features.Projections, t => t == typeof(OrdersViewProjection));
        Assert.Single(features.ReadModelSchemas, t => t == typeof(OrdersViewSchema));
        // Every feature type lives in a feature folder: the Domain's, or the Infrastructure's ReadModels.
        Assert.All(features.Projections.Concat(features.ReadModelSchemas), t => Assert.Contains(".ReadModels.", t.Namespace));
    }

    [Fact]
    public async Task The_sample_gets_its_repository_runner_event_names_and_orders_view()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddEventSourcing(ConfigurationOf(("pyfly:eventsourcing:enabled", "true")), ServiceAssemblies);
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        Assert.NotNull(provider.GetRequiredService<EventSourcedRepository<Order>>());
        Assert.Single(provider.GetServices<IHostedService>().OfType<ProjectionRunner>(), r => r.Projection.Name == OrdersViewProjection.ProjectionName);
        Assert.Equal(typeof(OrderPlaced), provider.GetRequiredService<EventTypeRegistry>().Resolve(nameof(OrderPlaced)));
        Assert.Single(provider.GetServices<IReadModelSchema>(), s => s is OrdersViewSchema);
        await using var db = await provider.GetRequiredService<EventStoreDatabase>().CreateContextAsync<OrdersViewDbContext>();
        Assert.Equal(0, await db.Orders.CountAsync());
    }
}
