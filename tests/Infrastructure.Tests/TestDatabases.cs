using Microsoft.Data.Sqlite;
using Npgsql;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Tests.TestReadModel;
using OrdersEs.TestSupport;

namespace OrdersEs.Infrastructure.Tests;

/// <summary>
/// Fresh, empty databases for tests. PostgreSQL is <see cref="TestServers.Postgres"/>: <c>ORDERSES_TEST_POSTGRES</c>
/// (an ADO.NET connection string to a server where databases may be created), else a Testcontainers container when a
/// Docker engine answers, else the test is skipped with the reason.
/// </summary>
public static class TestDatabases
{
    /// <summary>
    /// A new PostgreSQL database, dropped when the returned handle is disposed; skips the test when no server can be had.
    /// It hosts <paramref name="readModels"/>, by default the tests' own <c>test_counters_view</c>.
    /// </summary>
    public static async Task<TestDatabase> CreatePostgresAsync(IReadOnlyList<IReadModelSchema>? readModels = null)
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
        return new TestDatabase(connection, readModels, async () =>
        {
            await using var admin = new NpgsqlConnection(server);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        });
    }

    /// <summary>A new SQLite database file in the temp folder, deleted when the handle is disposed; hosts <paramref name="readModels"/> as above.</summary>
    public static TestDatabase CreateSqlite(IReadOnlyList<IReadModelSchema>? readModels = null)
    {
        var path = Path.Combine(Path.GetTempPath(), $"orderses-test-{Guid.NewGuid():N}.db");
        var connection = new StoreConnection(DatabaseProvider.Sqlite, new SqliteConnectionStringBuilder { DataSource = path }.ConnectionString);
        return new TestDatabase(connection, readModels, () =>
        {
            foreach (var file in new[] { path, path + "-wal", path + "-shm" }) File.Delete(file);
            return Task.CompletedTask;
        });
    }
}

/// <summary>
/// A test database and the stores' shared <see cref="EventStoreDatabase"/> on it, hosting read models as the service's
/// event database does (the tests' own <c>test_counters_view</c> unless told otherwise); disposing drops it.
/// </summary>
public sealed class TestDatabase(StoreConnection connection, IReadOnlyList<IReadModelSchema>? readModels, Func<Task> drop) : IAsyncDisposable
{
    /// <summary>What a test database hosts unless told otherwise: the kernel tests' read model, no sample's.</summary>
    public static IReadOnlyList<IReadModelSchema> DefaultReadModels { get; } = [new CountersViewSchema()];

    public StoreConnection Connection { get; } = connection;

    public EventStoreDatabase Database { get; } = new(connection, readModels ?? DefaultReadModels);

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        await drop();
    }
}
