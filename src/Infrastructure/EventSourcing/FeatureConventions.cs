using System.Linq.Expressions;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>
/// Finds the features of the service's assemblies once, at start-up, so adding one edits no existing file:
/// <list type="bullet">
/// <item>every concrete <see cref="AggregateRoot"/> with a parameterless constructor gets its repository (as <c>AddAggregate&lt;T&gt;()</c>);</item>
/// <item>every concrete <see cref="DomainEvent"/> is registered by name (<see cref="EventTypeRegistry"/>);</item>
/// <item>every concrete <see cref="IProjection"/> runs (as <c>AddProjection&lt;T&gt;()</c>), and every <see cref="IReadModelSchema"/>
/// contributes its tables to the database that hosts the read models.</item>
/// </list>
/// Only public, non-generic, non-abstract types count. In the Infrastructure assembly, which holds the kernel too, only
/// the types under its <c>ReadModels</c> folder are features. An explicit <c>AddAggregate</c> after it replaces the
/// convention's registration; an explicit <c>AddProjection</c> of a found projection changes nothing.
/// </summary>
public static class FeatureConventions
{
    private const string ReadModelsNamespace = ".ReadModels";

    /// <summary>The feature types found in <paramref name="assemblies"/>, as <see cref="Register"/> would register them.</summary>
    public static FeatureSet Find(IEnumerable<Assembly> assemblies)
    {
        var types = assemblies.Distinct().SelectMany(a => a.GetExportedTypes()).Where(IsFeatureType).ToArray();
        return new FeatureSet(
            types.Where(t => typeof(AggregateRoot).IsAssignableFrom(t) && ParameterlessConstructor(t) is not null).ToArray(),
            types.Where(t => typeof(IProjection).IsAssignableFrom(t)).ToArray(),
            types.Where(t => typeof(IReadModelSchema).IsAssignableFrom(t)).ToArray());
    }

    /// <summary>Registers what <see cref="Find"/> finds (event types are registered by <c>AddEventSourcing</c> from the same assemblies).</summary>
    public static void Register(IServiceCollection services, IEnumerable<Assembly> assemblies)
    {
        var features = Find(assemblies);
        foreach (var aggregate in features.Aggregates)
            Generic(nameof(AddAggregateByConvention), aggregate).Invoke(null, [services]);
        foreach (var schema in features.ReadModelSchemas)
            services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(IReadModelSchema), schema));
        foreach (var projection in features.Projections)
            Generic(nameof(AddProjectionByConvention), projection).Invoke(null, [services]);
    }

    private static bool IsFeatureType(Type type) =>
        type is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false }
        && (type.Assembly != typeof(FeatureConventions).Assembly || IsUnderReadModels(type.Namespace));

    private static bool IsUnderReadModels(string? ns) =>
        ns is not null && (ns.EndsWith(ReadModelsNamespace, StringComparison.Ordinal) || ns.Contains(ReadModelsNamespace + ".", StringComparison.Ordinal));

    private static ConstructorInfo? ParameterlessConstructor(Type type) =>
        type.GetConstructor(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes);

    private static MethodInfo Generic(string name, Type argument) =>
        typeof(FeatureConventions).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic)!.MakeGenericMethod(argument);

    private static void AddAggregateByConvention<T>(IServiceCollection services) where T : AggregateRoot
    {
        if (services.Any(d => d.ServiceType == typeof(EventSourcedRepository<T>))) return;
        // Compiled once here: a load creates the aggregate without reflection.
        var factory = Expression.Lambda<Func<T>>(Expression.New(ParameterlessConstructor(typeof(T))!)).Compile();
        services.AddAggregate(factory);
    }

    private static void AddProjectionByConvention<T>(IServiceCollection services) where T : class, IProjection =>
        services.AddProjection<T>();
}

/// <summary>The features of the service's assemblies: what <see cref="FeatureConventions"/> registers.</summary>
public sealed record FeatureSet(IReadOnlyList<Type> Aggregates, IReadOnlyList<Type> Projections, IReadOnlyList<Type> ReadModelSchemas);
