using System.Diagnostics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace OrdersEs.Api.Tests.Operations;

/// <summary>Swagger UI rendered by a real browser (headless Chromium) from the service on a real port.</summary>
public sealed class SwaggerUiBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task Swagger_ui_renders_every_path_of_the_openapi_document_in_a_browser()
    {
        if (!File.Exists(Chromium)) Assert.Skip($"{Chromium} is missing: install Debian's chromium package (apt-get install -y chromium).");
        var databases = new SqliteDatabases();
        try
        {
            await using var factory = new ApiFactory(await databases.CreateAsync());
            factory.UseKestrel(0);
            factory.StartServer();
            var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

            using var document = System.Text.Json.JsonDocument.Parse(await factory.CreateClient().GetStringAsync("/openapi/v1.json"));
            var paths = document.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToArray();

            var dom = await DumpDomAsync($"{address}/swagger/index.html");

            Assert.Contains("swagger-ui", dom, StringComparison.Ordinal);
            var text = dom.Replace("\u200B", "", StringComparison.Ordinal).Replace("<wbr>", "", StringComparison.Ordinal);
            foreach (var path in paths) Assert.Contains($">{path}<", text, StringComparison.Ordinal);
        }
        finally
        {
            await databases.DropAllAsync();
        }
    }

    private static async Task<string> DumpDomAsync(string url)
    {
        var profile = Directory.CreateTempSubdirectory("orderses-chromium-");
        try
        {
            var start = new ProcessStartInfo(Chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                ArgumentList = { "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", $"--user-data-dir={profile.FullName}", "--dump-dom", url },
            };
            using var browser = Process.Start(start)!;
            var stdout = browser.StandardOutput.ReadToEndAsync();
            var stderr = browser.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await browser.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                browser.Kill(entireProcessTree: true);
                throw new TimeoutException($"chromium did not finish within 60 s: {await stderr}");
            }
            var dom = await stdout;
            Assert.True(dom.Length > 0, $"chromium printed no DOM (exit {browser.ExitCode}): {await stderr}");
            return dom;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
