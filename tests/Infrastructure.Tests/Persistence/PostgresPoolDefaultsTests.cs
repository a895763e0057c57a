using Microsoft.EntityFrameworkCore;
using Npgsql;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Tests.TestReadModel;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Persistence;

/// <summary>
/// The service's pooled PostgreSQL connections are not reset when they go back to the pool (no seven reset statements ahead
/// of the next command), and the hot paths' statements are prepared, unless the connection string says otherwise.
/// </summary>
public sealed class PostgresPoolDefaultsTests
{
    private const string Server = "Host=db.example;Database=orders;Username=orders;Password=secret";

    [Fact]
    public void Both_pools_skip_the_reset_and_only_the_hot_paths_prepare_their_statements()
    {
        var hotPaths = new NpgsqlConnectionStringBuilder(PostgresPoolDefaults.ForHotPaths(Server));
        var efCore = new NpgsqlConnectionStringBuilder(PostgresPoolDefaults.ForEfCore(Server));

        Assert.True(hotPaths.NoResetOnClose);
        Assert.Equal(32, hotPaths.MaxAutoPrepare);
        Assert.True(efCore.NoResetOnClose);
        Assert.Equal(0, efCore.MaxAutoPrepare);
        Assert.Equal(("db.example", "orders", "orders", "secret"), (efCore.Host, efCore.Database, efCore.Username, efCore.Password));
        Assert.Equal("secret", hotPaths.Password);
    }

    [Theory]
    [InlineData("No Reset On Close=false;Max Auto Prepare=0")]
    [InlineData("noresetonclose=False;MAXAUTOPREPARE=0")]
    public void What_the_connection_string_sets_itself_is_kept_in_any_spelling(string settings)
    {
        var hotPaths = new NpgsqlConnectionStringBuilder(PostgresPoolDefaults.ForHotPaths($"{Server};{settings}"));
        var efCore = new NpgsqlConnectionStringBuilder(PostgresPoolDefaults.ForEfCore($"{Server};{settings}"));

        Assert.False(hotPaths.NoResetOnClose);
        Assert.Equal(0, hotPaths.MaxAutoPrepare);
        Assert.False(efCore.NoResetOnClose);
    }

    [Theory]
    [InlineData("", "kept")]
    [InlineData(";No Reset On Close=false", "")]
    public async Task A_connection_back_from_the_pool_keeps_its_session_unless_the_connection_string_asks_for_the_reset(string settings, string expected)
    {
        await using var test = await TestDatabases.CreatePostgresAsync();
        // One connection per pool, so the second open gets the connection the first one gave back.
        var connection = new StoreConnection(DatabaseProvider.PostgreSql, test.Connection.ConnectionString + ";Maximum Pool Size=1" + settings);
        await using var database = new EventStoreDatabase(connection, TestDatabase.DefaultReadModels);

        await using (var first = await database.OpenConnectionAsync())
            await ScalarAsync(first, "SELECT set_config('orderses.probe', 'kept', false)");
        await using (var second = await database.OpenConnectionAsync())
            Assert.Equal(expected, (string?)await ScalarAsync(second, "SELECT current_setting('orderses.probe', true)") ?? "");

        await using (var context = await database.CreateContextAsync<CountersViewDbContext>())
            await context.Database.ExecuteSqlRawAsync("SELECT set_config('orderses.probe', 'kept', false)");
        await using (var context = await database.CreateContextAsync<CountersViewDbContext>())
        {
            var setting = await context.Database.SqlQueryRaw<string>("SELECT current_setting('orderses.probe', true) AS \"Value\"").ToListAsync();
            Assert.Equal(expected, setting.Single() ?? "");
        }
    }

    [Fact]
    public async Task A_transaction_left_open_is_still_rolled_back_when_its_connection_goes_back_to_the_pool()
    {
        await using var test = await TestDatabases.CreatePostgresAsync();
        var connection = new StoreConnection(DatabaseProvider.PostgreSql, test.Connection.ConnectionString + ";Maximum Pool Size=1");
        await using var database = new EventStoreDatabase(connection, TestDatabase.DefaultReadModels);

        await using (var first = await database.OpenConnectionAsync())
        {
            await ScalarAsync(first, "CREATE TABLE pool_probe (id int)");
            // Neither committed, rolled back nor disposed: given back to the pool as it is.
            var open = await first.BeginTransactionAsync();
            await using var insert = first.CreateCommand();
            insert.Transaction = open;
            insert.CommandText = "INSERT INTO pool_probe VALUES (1)";
            await insert.ExecuteNonQueryAsync();
        }
        await using var second = await database.OpenConnectionAsync();
        Assert.Equal(0L, await ScalarAsync(second, "SELECT count(*) FROM pool_probe"));
    }

    private static async Task<object?> ScalarAsync(System.Data.Common.DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var value = await command.ExecuteScalarAsync();
        return value is DBNull ? null : value;
    }
}
