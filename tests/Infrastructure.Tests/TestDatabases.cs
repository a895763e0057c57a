using Microsoft.Data.Sqlite;
using Npgsql;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.ReadModels.Orders;
using OrdersEs.TestSupport;

namespace OrdersEs.Infrastructure.Tests;

/// <summary>
/// Fresh, empty databases for tests. PostgreSQL is <see cref="TestServers.Postgres"/>: <c>ORDERSES_TEST_POSTGRES</c>
/// (an ADO.NET connection string to a server where databases may be created), else a Testcontainers container when a
/// Docker engine answers, else the test is skipped with the reason.
/// </summary>
public static class TestDatabases
{
    /// <summary>A new PostgreSQL database, dropped when the returned handle is disposed; skips the test when no server can be had.</summary>
    public static async Task<TestDatabase> CreatePostgresAsync()
    {
        var server = await TestServers.Postgres.AddressOrSkipAsync();
        var name = "orderses_test_" + Guid.NewGuid().ToString("N")[..16];
        await using (var admin = new NpgsqlConnection(server))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        var connection = new StoreConnection(DatabaseProvider.PostgreSql,
            new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString);
        return new TestDatabase(connection, async () =>
        {
            await using var admin = new NpgsqlConnection(server);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        });
    }

    /// <summary>A new SQLite database file in the temp folder, deleted when the handle is disposed.</summary>
    public static TestDatabase CreateSqlite()
    {
        var path = Path.Combine(Path.GetTempPath(), $"orderses-test-{Guid.NewGuid():N}.db");
        var connection = new StoreConnection(DatabaseProvider.Sqlite, new SqliteConnectionStringBuilder { DataSource = path }.ConnectionString);
        return new TestDatabase(connection, () =>
        {
            foreach (var file in new[] { path, path + "-wal", path + "-shm" }) File.Delete(file);
            return Task.CompletedTask;
        });
    }
}

/// <summary>
/// A test database and the stores' shared <see cref="EventStoreDatabase"/> on it, hosting the sample's read model
/// (<c>orders_view</c>) as the service's event database does; disposing drops it.
/// </summary>
public sealed class TestDatabase(StoreConnection connection, Func<Task> drop) : IAsyncDisposable
{
    public StoreConnection Connection { get; } = connection;

    public EventStoreDatabase Database { get; } = new(connection, [new OrdersViewSchema()]);

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        await drop();
    }
}
