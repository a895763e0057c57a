using System.Net;
using Microsoft.AspNetCore.Mvc.Testing;
using Xunit;

namespace OrdersEs.Api.Tests.Operations;

public class HealthTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    [Fact]
    public async Task Live_answers_200_while_the_process_runs()
    {
        var response = await factory.CreateClient().GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
