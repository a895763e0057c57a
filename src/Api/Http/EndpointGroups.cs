using System.Reflection;

namespace OrdersEs.Api.Http;

/// <summary>A feature's endpoints, mapped at start-up; found by convention in the service's assemblies.</summary>
public interface IEndpointGroup
{
    void Map(IEndpointRouteBuilder app);
}

/// <summary>Finds the <see cref="IEndpointGroup"/>s once at start-up and maps them, and the problems every endpoint documents.</summary>
public static class EndpointGroups
{
    /// <summary>Registers every public concrete <see cref="IEndpointGroup"/> of <paramref name="assemblies"/>.</summary>
    public static IServiceCollection AddEndpointGroups(this IServiceCollection services, IEnumerable<Assembly> assemblies)
    {
        foreach (var type in assemblies.Distinct().SelectMany(a => a.GetExportedTypes())
                     .Where(t => t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false } && typeof(IEndpointGroup).IsAssignableFrom(t)))
            services.AddSingleton(typeof(IEndpointGroup), type);
        return services;
    }

    public static IEndpointRouteBuilder MapEndpointGroups(this IEndpointRouteBuilder app)
    {
        foreach (var group in app.ServiceProvider.GetServices<IEndpointGroup>()) group.Map(app);
        return app;
    }

    /// <summary>The problems every write on an existing aggregate may answer with, besides its own.</summary>
    public static RouteHandlerBuilder ProducesWriteProblems(this RouteHandlerBuilder builder) => builder
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status409Conflict)
        .ProducesProblem(StatusCodes.Status412PreconditionFailed)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    /// <summary>The problems of a write with a JSON body.</summary>
    public static RouteHandlerBuilder ProducesBodyProblems(this RouteHandlerBuilder builder) => builder
        .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
        .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
}
