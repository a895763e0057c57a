using System.Net;
using System.Net.Http.Json;
using Npgsql;
using OrdersEs.TestSupport;
using Xunit;

namespace OrdersEs.Api.Tests.Orders;

/// <summary>A database that does not answer, or refuses the service, makes writes, reads and readiness 503, never 500.</summary>
public sealed class UnavailableDatabaseTests
{
    // Port 1 on loopback: nothing listens there, so every connection is refused at once.
    private const string Unreachable = "postgresql://orders:secret@127.0.0.1:1/orders?connect_timeout=2";

    [Fact]
    public async Task Writes_reads_and_readiness_answer_503_while_the_database_is_down() =>
        await AssertUnavailableAsync(Unreachable);

    [Fact]
    public async Task Writes_and_reads_answer_503_when_postgres_refuses_the_credentials() =>
        await AssertUnavailableAsync(new NpgsqlConnectionStringBuilder(await TestServers.Postgres.AddressOrSkipAsync()) { Username = "orderses_no_such_role", Password = "wrong" }.ConnectionString);

    [Fact]
    public async Task Writes_and_reads_answer_503_when_the_postgres_database_does_not_exist() =>
        await AssertUnavailableAsync(new NpgsqlConnectionStringBuilder(await TestServers.Postgres.AddressOrSkipAsync()) { Database = "orderses_no_such_database" }.ConnectionString);

    [Fact]
    public async Task Writes_and_reads_answer_503_when_the_sqlite_file_is_not_a_database()
    {
        var path = Path.Combine(Path.GetTempPath(), $"orderses-not-a-db-{Guid.NewGuid():N}.db");
        await File.WriteAllTextAsync(path, new string('x', 8192), TestContext.Current.CancellationToken);
        try
        {
            await AssertUnavailableAsync("sqlite:///" + path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task AssertUnavailableAsync(string databaseUrl)
    {
        await using var factory = new ApiFactory(databaseUrl);
        var client = factory.Client("t");

        var placed = await client.PostAsJsonAsync("/api/orders", OrderCalls.OneLine, TestContext.Current.CancellationToken);
        await placed.AssertProblemAsync(503, "unavailable");
        Assert.Equal("5", placed.Headers.RetryAfter?.ToString());
        await (await client.PostAsync("/api/orders/ord_x/confirm", null, TestContext.Current.CancellationToken)).AssertProblemAsync(503, "unavailable");
        await (await client.GetAsync("/api/orders", TestContext.Current.CancellationToken)).AssertProblemAsync(503, "unavailable");
        await (await client.GetAsync("/api/orders/ord_x", TestContext.Current.CancellationToken)).AssertProblemAsync(503, "unavailable");
        await (await client.GetAsync("/api/orders/ord_x/events", TestContext.Current.CancellationToken)).AssertProblemAsync(503, "unavailable");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live", TestContext.Current.CancellationToken)).StatusCode);
    }
}
