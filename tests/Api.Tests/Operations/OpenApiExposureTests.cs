using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using OrdersEs.Api.Operations;
using Xunit;

namespace OrdersEs.Api.Tests.Operations;

/// <summary><c>pyfly:api:openapi:enabled</c> decides whether <c>/openapi/v1.json</c> and <c>/swagger</c> are served.</summary>
public sealed class OpenApiExposureTests
{
    [Theory]
    [InlineData("Development", null, true)]
    [InlineData("Production", null, false)]
    [InlineData("Staging", "", false)]
    [InlineData("Production", "true", true)]
    [InlineData("Production", "True", true)]
    [InlineData("Development", "false", false)]
    public void The_key_decides_and_unset_means_Development_only(string environment, string? configured, bool expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [OpenApiExposure.EnabledKey] = configured })
            .Build();

        Assert.Equal(expected, OpenApiExposure.IsEnabled(configuration, new HostingEnvironment { EnvironmentName = environment }));
    }

    [Fact]
    public void A_value_other_than_true_or_false_is_refused_with_the_key_named()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [OpenApiExposure.EnabledKey] = "yes" })
            .Build();

        var error = Assert.Throws<InvalidOperationException>(() =>
            OpenApiExposure.IsEnabled(configuration, new HostingEnvironment { EnvironmentName = Environments.Production }));
        Assert.Contains(OpenApiExposure.EnabledKey, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Production", "")]
    [InlineData("Development", "false")]
    public async Task Documents_answer_404_when_not_enabled(string environment, string configured)
    {
        await using var api = await StartAsync(environment, configured);
        var client = api.Factory.CreateClient();

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/openapi/v1.json")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/swagger/index.html")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
    }

    [Theory]
    [InlineData("Development", "")]
    [InlineData("Production", "true")]
    public async Task Documents_are_served_when_enabled(string environment, string configured)
    {
        await using var api = await StartAsync(environment, configured);
        var client = api.Factory.CreateClient();

        var document = await client.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
        using var json = System.Text.Json.JsonDocument.Parse(await document.Content.ReadAsStringAsync());
        Assert.StartsWith("3.", json.RootElement.GetProperty("openapi").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Object, json.RootElement.GetProperty("paths").ValueKind);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/swagger/index.html")).StatusCode);
    }

    [Fact]
    public void The_shipped_appsettings_serve_the_documents_in_every_environment()
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: false)
            .Build();

        Assert.Equal("true", configuration[OpenApiExposure.EnabledKey], ignoreCase: true);
    }

    private static async Task<StartedApi> StartAsync(string environment, string configured)
    {
        var databases = new SqliteDatabases();
        var factory = new ApiFactory(await databases.CreateAsync(),
            settings: new Dictionary<string, string> { [OpenApiExposure.EnabledKey] = configured }, environment: environment);
        return new StartedApi(factory, databases);
    }

    private sealed record StartedApi(ApiFactory Factory, SqliteDatabases Databases) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Factory.DisposeAsync();
            await Databases.DropAllAsync();
        }
    }
}
