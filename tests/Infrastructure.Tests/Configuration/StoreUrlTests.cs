using Microsoft.Data.Sqlite;
using Npgsql;
using OrdersEs.Infrastructure.Configuration;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Configuration;

public class StoreUrlTests
{
    private const string Key = "pyfly:eventsourcing:store:url";

    private static NpgsqlConnectionStringBuilder PostgreSql(string url)
    {
        var connection = StoreUrl.Parse(Key, url);
        Assert.Equal(DatabaseProvider.PostgreSql, connection.Provider);
        return new NpgsqlConnectionStringBuilder(connection.ConnectionString);
    }

    private static SqliteConnectionStringBuilder Sqlite(string url)
    {
        var connection = StoreUrl.Parse(Key, url);
        Assert.Equal(DatabaseProvider.Sqlite, connection.Provider);
        return new SqliteConnectionStringBuilder(connection.ConnectionString);
    }

    [Fact]
    public void Asyncpg_url_becomes_an_Npgsql_connection_string()
    {
        var builder = PostgreSql("postgresql+asyncpg://orders:s3cret@db.example.com:6543/orders_db");

        Assert.Equal("db.example.com", builder.Host);
        Assert.Equal(6543, builder.Port);
        Assert.Equal("orders", builder.Username);
        Assert.Equal("s3cret", builder.Password);
        Assert.Equal("orders_db", builder.Database);
    }

    [Theory]
    [InlineData("postgresql://app:pw@pg/orders")]
    [InlineData("postgresql+psycopg://app:pw@pg/orders")]
    [InlineData("postgresql+psycopg2://app:pw@pg/orders")]
    [InlineData("postgres://app:pw@pg/orders")]
    [InlineData("POSTGRESQL+ASYNCPG://app:pw@pg/orders")]
    public void Every_postgresql_scheme_parses_to_the_same_connection(string url)
    {
        var builder = PostgreSql(url);

        Assert.Equal(("pg", 5432, "app", "pw", "orders"), (builder.Host, builder.Port, builder.Username, builder.Password, builder.Database));
    }

    [Fact]
    public void Postgresql_port_defaults_to_5432()
    {
        Assert.Equal(5432, PostgreSql("postgresql://app@pg/orders").Port);
    }

    [Fact]
    public void Postgresql_user_and_password_are_url_decoded()
    {
        var builder = PostgreSql("postgresql://app%40corp:p%40ss%2Fw%3Ard%20x@pg/my%20db");

        Assert.Equal("app@corp", builder.Username);
        Assert.Equal("p@ss/w:rd x", builder.Password);
        Assert.Equal("my db", builder.Database);
    }

    [Fact]
    public void Postgresql_password_with_an_unencoded_at_sign_still_parses()
    {
        var builder = PostgreSql("postgresql://app:p@ss@pg:5433/orders");

        Assert.Equal("p@ss", builder.Password);
        Assert.Equal("pg", builder.Host);
        Assert.Equal(5433, builder.Port);
    }

    [Fact]
    public void Postgresql_ipv6_host_keeps_its_port()
    {
        var builder = PostgreSql("postgresql://app:pw@[::1]:6000/orders");

        Assert.Equal("::1", builder.Host);
        Assert.Equal(6000, builder.Port);
    }

    [Theory]
    [InlineData("require", SslMode.Require)]
    [InlineData("disable", SslMode.Disable)]
    [InlineData("verify-ca", SslMode.VerifyCA)]
    [InlineData("verify-full", SslMode.VerifyFull)]
    public void Sslmode_query_parameter_sets_Npgsql_ssl_mode(string sslmode, SslMode expected)
    {
        Assert.Equal(expected, PostgreSql($"postgresql://app:pw@pg/orders?sslmode={sslmode}").SslMode);
    }

    [Fact]
    public void Libpq_query_parameters_map_to_Npgsql_keywords()
    {
        var builder = PostgreSql("postgresql://app:pw@pg/orders?application_name=orders%20api&connect_timeout=7&target_session_attrs=read-write");

        Assert.Equal("orders api", builder.ApplicationName);
        Assert.Equal(7, builder.Timeout);
        Assert.Equal("read-write", builder.TargetSessionAttributes);
    }

    [Fact]
    public void Unknown_query_parameter_is_rejected_naming_it_and_the_key()
    {
        var error = Assert.Throws<ConfigurationException>(() => StoreUrl.Parse(Key, "postgresql://app:hunter2@pg/orders?pool_recycle=30"));

        Assert.Equal(Key, error.Key);
        Assert.Contains(Key, error.Message);
        Assert.Contains("pool_recycle", error.Message);
        Assert.Contains("sslmode", error.Message);
        Assert.Contains("postgresql://app:***@pg/orders?pool_recycle=30", error.Message);
        Assert.DoesNotContain("hunter2", error.Message);
    }

    [Fact]
    public void Invalid_sslmode_value_is_rejected()
    {
        var error = Assert.Throws<ConfigurationException>(() => StoreUrl.Parse(Key, "postgresql://app@pg/orders?sslmode=sometimes"));

        Assert.Contains("sslmode=sometimes", error.Message);
    }

    [Theory]
    [InlineData("postgresql://app:pw@pg:notaport/orders", "port 'notaport'")]
    [InlineData("postgresql://app:pw@pg:70000/orders", "port '70000'")]
    [InlineData("postgresql://app:pw@/orders", "no host")]
    [InlineData("postgresql://app:pw@a,b/orders", "several hosts")]
    public void Malformed_postgresql_url_is_rejected_saying_why(string url, string reason)
    {
        var error = Assert.Throws<ConfigurationException>(() => StoreUrl.Parse(Key, url));

        Assert.Contains(reason, error.Message);
        Assert.Contains(StoreUrl.AcceptedForms, error.Message);
    }

    [Theory]
    [InlineData("sqlite+aiosqlite:///./rel.db", "./rel.db")]
    [InlineData("sqlite:///rel.db", "rel.db")]
    [InlineData("sqlite:///data/orders.db", "data/orders.db")]
    [InlineData("sqlite:////abs/path.db", "/abs/path.db")]
    [InlineData("sqlite+pysqlite:////abs/path.db", "/abs/path.db")]
    public void Sqlite_url_keeps_relative_and_absolute_paths(string url, string dataSource)
    {
        var builder = Sqlite(url);

        Assert.Equal(dataSource, builder.DataSource);
        Assert.Equal(SqliteOpenMode.ReadWriteCreate, builder.Mode);
    }

    [Theory]
    [InlineData("sqlite:///:memory:")]
    [InlineData("sqlite+aiosqlite:///:memory:")]
    [InlineData("sqlite://")]
    public void Sqlite_memory_url_becomes_a_named_shared_cache_database(string url)
    {
        var builder = Sqlite(url);

        Assert.Equal(SqliteOpenMode.Memory, builder.Mode);
        Assert.Equal(SqliteCacheMode.Shared, builder.Cache);
        Assert.StartsWith("pyfly-", builder.DataSource);
    }

    [Fact]
    public void Each_sqlite_memory_parse_is_a_separate_database()
    {
        Assert.NotEqual(StoreUrl.Parse(Key, "sqlite:///:memory:"), StoreUrl.Parse(Key, "sqlite:///:memory:"));
    }

    [Fact]
    public async Task Sqlite_memory_database_is_seen_by_every_connection_while_one_stays_open()
    {
        var connectionString = StoreUrl.Parse(Key, "sqlite:///:memory:").ConnectionString;
        await using var keepAlive = new SqliteConnection(connectionString);
        await keepAlive.OpenAsync();
        await using (var writer = new SqliteConnection(connectionString))
        {
            await writer.OpenAsync();
            await using var command = writer.CreateCommand();
            command.CommandText = "CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (42);";
            await command.ExecuteNonQueryAsync();
        }

        await using var reader = new SqliteConnection(connectionString);
        await reader.OpenAsync();
        await using var query = reader.CreateCommand();
        query.CommandText = "SELECT v FROM t";
        Assert.Equal(42L, await query.ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("sqlite://host/orders.db", "no host")]
    [InlineData("sqlite:///orders.db?mode=ro", "query parameters")]
    public void Malformed_sqlite_url_is_rejected_saying_why(string url, string reason)
    {
        Assert.Contains(reason, Assert.Throws<ConfigurationException>(() => StoreUrl.Parse(Key, url)).Message);
    }

    [Theory]
    [InlineData("Host=pg;Port=5433;Database=orders;Username=app;Password=pw")]
    [InlineData("Server=pg;Port=5433;Database=orders;User ID=app;Password=pw")]
    [InlineData("host=pg; port=5433; database=orders; username=app; password=pw")]
    public void Ado_net_postgresql_connection_string_is_kept(string value)
    {
        var builder = PostgreSql(value);

        Assert.Equal(("pg", 5433, "orders", "app", "pw"), (builder.Host, builder.Port, builder.Database, builder.Username, builder.Password));
    }

    [Theory]
    [InlineData("Data Source=./orders.db", "./orders.db")]
    [InlineData("DataSource=/var/lib/orders.db;Cache=Shared", "/var/lib/orders.db")]
    [InlineData("Filename=orders.db", "orders.db")]
    public void Ado_net_sqlite_connection_string_is_kept(string value, string dataSource)
    {
        Assert.Equal(dataSource, Sqlite(value).DataSource);
    }

    [Theory]
    [InlineData("Host=pg;Frobnicate=1")]
    [InlineData("Data Source=x.db;Frobnicate=1")]
    [InlineData("Database=orders;User=app")]
    [InlineData("Host=pg;Port=notaport")]
    public void Invalid_ado_net_connection_string_is_rejected_naming_the_key(string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => StoreUrl.Parse(Key, value));

        Assert.Contains(Key, error.Message);
        Assert.Contains("Host=...;Database=...", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("just-a-word")]
    [InlineData("mysql://app:pw@db/orders")]
    public void Value_that_is_no_url_or_connection_string_is_rejected(string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => StoreUrl.Parse(Key, value));

        Assert.Contains(Key, error.Message);
        Assert.Contains(StoreUrl.AcceptedForms, error.Message);
    }

    [Theory]
    [InlineData("mysql://app:hunter2@db/orders")]
    [InlineData("postgresql://app:hunter2@pg:notaport/orders")]
    [InlineData("postgresql://app:hunter2@/orders")]
    [InlineData("postgresql://app:hunter2@pg/orders?pool_size=5")]
    [InlineData("postgresql://app:hunter2@x/y@pg:bad/orders")]
    [InlineData("postgresql://app@pg/orders?sslpassword=hunter2&sslmode=bogus")]
    [InlineData("postgresql://app@pg/orders?sslmode=require&sslpassword=hunter2&bogus=1")]
    [InlineData("Host=pg;Password=hunter2;Port=notaport")]
    [InlineData("Host=pg;Password=\"hunter2;x\";Frobnicate=1")]
    [InlineData("Data Source=x.db;Password=hunter2;Frobnicate=1")]
    public void Rejected_value_never_shows_its_password(string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => StoreUrl.Parse(Key, value));

        Assert.DoesNotContain("hunter2", error.Message);
        Assert.Contains("***", error.MaskedValue);
    }

    [Theory]
    [InlineData("postgresql://app:pw@pg/orders", "Host=pg;Database=orders;Username=app;Password=pw", true)]
    [InlineData("postgresql://app:pw@pg/orders", "postgres://app:pw@pg:5432/orders", true)]
    [InlineData("postgresql://app:pw@pg/orders", "postgresql://app:pw@pg/orders?sslmode=require", false)]
    [InlineData("postgresql://app:pw@pg/orders", "postgresql://app:pw@pg/archive", false)]
    [InlineData("sqlite:///orders.db", "Data Source=orders.db", true)]
    [InlineData("sqlite:///orders.db", "sqlite:///other.db", false)]
    public void Same_database_ignores_spelling_but_not_settings(string first, string second, bool same)
    {
        Assert.Equal(same, StoreUrl.SameDatabase(StoreUrl.Parse(Key, first), StoreUrl.Parse(Key, second)));
    }
}
