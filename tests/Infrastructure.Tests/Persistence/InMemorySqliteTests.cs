using System.Data.Common;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Persistence;

/// <summary>
/// The private in-memory SQLite database of memory mode shares one cache between its connections, so a schema change in
/// an open transaction (a read model's view switched to a new generation) locks the schema for every other connection.
/// </summary>
public sealed class InMemorySqliteTests
{
    private const int Readers = 16;

    [Fact]
    public async Task Queries_during_an_uncommitted_schema_change_wait_for_the_commit_instead_of_failing()
    {
        await using var database = new EventStoreDatabase(StoreUrl.Parse("test", ReadModelHost.InMemoryUrl));
        await using (var setup = await database.OpenConnectionAsync())
            await ExecuteAsync(setup, "CREATE TABLE things_g1 (id TEXT); INSERT INTO things_g1 VALUES ('a'); CREATE VIEW things AS SELECT id FROM things_g1");
        // Readers with the schema loaded, as every pooled connection of a running service has, each with its own statement.
        var readers = new List<DbConnection>();
        for (var i = 0; i < Readers; i++)
        {
            readers.Add(await database.OpenConnectionAsync());
            await ExecuteAsync(readers[i], "SELECT 1");
        }

        await using var switcher = await database.OpenConnectionAsync();
        await using var switching = await switcher.BeginTransactionAsync();
        await ExecuteAsync(switcher, "CREATE TABLE things_g2 (id TEXT); INSERT INTO things_g2 VALUES ('a'), ('b'); DROP VIEW things; CREATE VIEW things AS SELECT id FROM things_g2",
            switching);

        // Before SQLitePCLRaw 3.0.3 a prepare refused by the schema lock read SQLite's unset tail pointer, and depending on
        // where the statement's text lay in memory threw ArgumentOutOfRangeException instead of returning the locked code
        // Microsoft.Data.Sqlite waits on: several readers make that likely to show.
        var queries = readers.Select((reader, i) => Task.Run(async () =>
        {
            await using var command = reader.CreateCommand();
            command.CommandText = $"SELECT COUNT(*) + {i} - {i} FROM things";
            return Convert.ToInt64(await command.ExecuteScalarAsync());
        })).ToArray();
        await Task.Delay(300);
        Assert.DoesNotContain(queries, query => query.IsCompleted);
        await switching.CommitAsync();

        Assert.All(await Task.WhenAll(queries).WaitAsync(TimeSpan.FromSeconds(30)), count => Assert.Equal(2, count));
        foreach (var reader in readers) await reader.DisposeAsync();
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        await command.ExecuteNonQueryAsync();
    }
}
