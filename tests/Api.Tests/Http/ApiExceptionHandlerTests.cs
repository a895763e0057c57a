using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OrdersEs.Api.Http;
using OrdersEs.Infrastructure.EventStore;
using Xunit;

namespace OrdersEs.Api.Tests.Http;

/// <summary>The mappings an HTTP test cannot force on demand (a lost race inside the store, a failing database).</summary>
public sealed class ApiExceptionHandlerTests
{
    [Fact]
    public async Task ConcurrencyException_is_a_409_with_its_own_type()
    {
        var (status, problem) = await HandleAsync(new ConcurrencyException("ord_1", 3, 4));
        Assert.Equal(409, status);
        Assert.Equal("https://orderses.dev/problems/concurrency", problem.GetProperty("type").GetString());
        Assert.Equal(4, problem.GetProperty("actualVersion").GetInt32());
    }

    [Fact]
    public async Task A_transient_store_failure_is_a_503_and_a_bug_a_500_without_details()
    {
        var transient = new EventStoreException("down", new TimeoutException(), isTransient: true);
        Assert.Equal(503, (await HandleAsync(transient)).Status);

        var (status, problem) = await HandleAsync(new InvalidOperationException("secret internals"));
        Assert.Equal(500, status);
        Assert.DoesNotContain("secret internals", problem.GetRawText(), StringComparison.Ordinal);
    }

    private static async Task<(int Status, JsonElement Problem)> HandleAsync(Exception exception)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Response.Body = new MemoryStream();
        var handler = new ApiExceptionHandler(services.GetRequiredService<IProblemDetailsService>(), NullLogger<ApiExceptionHandler>.Instance);

        Assert.True(await handler.TryHandleAsync(context, exception, CancellationToken.None));

        context.Response.Body.Position = 0;
        return (context.Response.StatusCode, (await JsonDocument.ParseAsync(context.Response.Body)).RootElement.Clone());
    }
}
