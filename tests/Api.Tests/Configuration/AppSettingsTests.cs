using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Snapshots;
using OrdersEs.Infrastructure.Snapshots.EfCore;
using Xunit;

namespace OrdersEs.Api.Tests.Configuration;

public class AppSettingsTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    [Fact]
#if (UsePostgreSql)
    public void Shipped_settings_run_event_sourcing_on_efcore_over_the_local_postgresql_orders_database()
#else
    public void Shipped_settings_run_event_sourcing_on_efcore_over_the_sqlite_app_db()
#endif
    {
        var services = factory.Services;

        var settings = services.GetRequiredService<EventSourcingSettings>();
        Assert.Equal(StoreProvider.EfCore, settings.Store.Provider);
        Assert.Equal(StoreProvider.EfCore, settings.Snapshot.Provider);
        Assert.Equal(100, settings.Repository.SnapshotInterval);
        var database = services.GetRequiredService<EventStoreDatabase>();
#if (UsePostgreSql)
        Assert.Equal(DatabaseProvider.PostgreSql, database.Connection.Provider);
        var connection = new Npgsql.NpgsqlConnectionStringBuilder(database.Connection.ConnectionString);
        Assert.Equal(("localhost", 5432, "orders"), (connection.Host, connection.Port, connection.Database));
#else
        Assert.Equal(DatabaseProvider.Sqlite, database.Connection.Provider);
        Assert.Equal("./app.db", new SqliteConnectionStringBuilder(database.Connection.ConnectionString).DataSource);
#endif
        Assert.IsType<EfCoreEventStore>(services.GetRequiredService<IEventStore>());
        Assert.IsType<EfCoreSnapshotStore>(services.GetRequiredService<ISnapshotStore>());
    }
}
