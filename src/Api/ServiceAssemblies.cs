using System.Reflection;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Api;

/// <summary>
/// The service's own assemblies, where start-up looks for features by convention: aggregates and events (Domain),
/// read models and projections (Infrastructure, under <c>ReadModels/</c>), endpoint groups and validators (Api).
/// </summary>
public static class ServiceAssemblies
{
    public static readonly Assembly[] All = [typeof(AggregateRoot).Assembly, typeof(EventStoreDatabase).Assembly, typeof(ServiceAssemblies).Assembly];
}
