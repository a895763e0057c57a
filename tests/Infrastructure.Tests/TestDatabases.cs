using Microsoft.Data.Sqlite;
using Npgsql;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;
using Testcontainers.PostgreSql;
using Xunit;

namespace OrdersEs.Infrastructure.Tests;

/// <summary>
/// Fresh, empty databases for tests. PostgreSQL comes from <c>ORDERSES_TEST_POSTGRES</c> (an ADO.NET connection
/// string to a server where databases may be created; <c>.ci/postgres.sh start</c> prints one), else from
/// Testcontainers when a Docker engine answers, else the test is skipped with the reason.
/// </summary>
public static class TestDatabases
{
    public const string PostgresVariable = "ORDERSES_TEST_POSTGRES";

    private static readonly Lazy<Task<(string? ConnectionString, string? Reason)>> PostgresServer = new(FindPostgresServerAsync);

    /// <summary>A new PostgreSQL database, dropped when the returned handle is disposed; skips the test when no server can be had.</summary>
    public static async Task<TestDatabase> CreatePostgresAsync()
    {
        var (server, reason) = await PostgresServer.Value;
        if (server is null) Assert.Skip(reason!);
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

    private static async Task<(string?, string?)> FindPostgresServerAsync()
    {
        var configured = Environment.GetEnvironmentVariable(PostgresVariable);
        if (!string.IsNullOrWhiteSpace(configured)) return (configured, null);
        try
        {
            var container = new PostgreSqlBuilder("postgres:17-alpine").Build();
            await container.StartAsync();
            AppDomain.CurrentDomain.ProcessExit += (_, _) => container.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return (container.GetConnectionString(), null);
        }
        catch (Exception e)
        {
            return (null, $"PostgreSQL not available: {PostgresVariable} is unset and no Docker engine answered for Testcontainers ({e.GetType().Name}). Run .ci/postgres.sh start and export its variable.");
        }
    }
}

/// <summary>A test database and the stores' shared <see cref="EventStoreDatabase"/> on it; disposing drops it.</summary>
public sealed class TestDatabase(StoreConnection connection, Func<Task> drop) : IAsyncDisposable
{
    public StoreConnection Connection { get; } = connection;

    public EventStoreDatabase Database { get; } = new(connection);

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        await drop();
    }
}
