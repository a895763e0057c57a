using Npgsql;
using OrdersEs.Infrastructure.Configuration;

namespace OrdersEs.Bench;

/// <summary>Fresh databases on the benchmark's PostgreSQL server, dropped at the end of the run.</summary>
public sealed class BenchDatabase(string serverConnectionString) : IAsyncDisposable
{
    private readonly List<string> _created = [];

    public async Task<string> CreateAsync(string purpose)
    {
        var name = $"bench_{purpose}_{Guid.NewGuid():N}"[..40];
        await using (var admin = new NpgsqlConnection(serverConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        _created.Add(name);
        return new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = name, MaxPoolSize = 100 }.ConnectionString;
    }

    public static StoreConnection Store(string connectionString) => new(DatabaseProvider.PostgreSql, connectionString);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(serverConnectionString);
        await admin.OpenAsync();
        foreach (var name in _created)
        {
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }
}
