using Testcontainers.PostgreSql;

namespace OrdersEs.TestSupport;

/// <summary>The servers of the tests, each found as <see cref="TestServer"/> says.</summary>
public static partial class TestServers
{
    public const string PostgresVariable = "ORDERSES_TEST_POSTGRES";

    /// <summary>
    /// PostgreSQL, as an ADO.NET connection string to a server where the tests may create databases:
    /// <c>ORDERSES_TEST_POSTGRES</c>, else a <c>postgres:17-alpine</c> container.
    /// </summary>
    public static TestServer Postgres { get; } = new("PostgreSQL", PostgresVariable, async cancellationToken =>
    {
        var container = new PostgreSqlBuilder("postgres:17-alpine").Build();
        await container.StartAsync(cancellationToken);
        return (container.GetConnectionString(), (IAsyncDisposable)container);
    });
}
