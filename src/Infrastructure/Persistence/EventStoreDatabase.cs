using OrdersEs.Infrastructure.Configuration;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>
/// One relational database holding the pyfly tables: opens connections and contexts, and creates or
/// upgrades the schema (additively, safe when several instances start at once) before first use.
/// </summary>
public sealed class EventStoreDatabase(StoreConnection connection)
{
    public StoreConnection Connection { get; } = connection;

    public Task EnsureSchemaAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();
}
