using System.Net;
using System.Net.Http.Json;
using Xunit;

namespace OrdersEs.Api.Tests.Http;

/// <summary>A database that does not answer makes writes, reads and readiness 503, never 500.</summary>
public sealed class UnavailableDatabaseTests
{
    // Port 1 on loopback: nothing listens there, so every connection is refused at once.
    private const string Unreachable = "postgresql://orders:secret@127.0.0.1:1/orders?connect_timeout=2";

    [Fact]
    public async Task Writes_reads_and_readiness_answer_503_while_the_database_is_down()
    {
        await using var factory = new ApiFactory(Unreachable);
        var client = factory.Client("t");

        await (await client.PostAsJsonAsync("/api/orders", ApiCalls.OneLine)).AssertProblemAsync(503, "unavailable");
        await (await client.GetAsync("/api/orders")).AssertProblemAsync(503, "unavailable");
        await (await client.GetAsync("/api/orders/ord_x")).AssertProblemAsync(503, "unavailable");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
    }
}
