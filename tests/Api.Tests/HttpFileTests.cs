using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace OrdersEs.Api.Tests;

/// <summary>
/// The <c>.http</c> files of the Api project (the service's beside it, and one in each feature folder that
/// <c>dotnet new esaggregate</c> adds) stay in step with the endpoints: every mapped route has a request in one of
/// them, and every request in them is a route the service maps.
/// </summary>
public sealed partial class HttpFileTests : IAsyncLifetime
{
    private readonly SqliteDatabases _databases = new();
    private ApiFactory? _factory;

    public async ValueTask InitializeAsync() => _factory = new ApiFactory(await _databases.CreateAsync());

    [Fact]
    public void Every_mapped_route_has_a_request_in_the_http_file()
    {
        var requests = HttpFileRequests();
        var missing = MappedRoutes()
            .Where(route => !requests.Any(request => route.Matches(request.Method, request.Path)))
            .Select(route => route.ToString())
            .ToArray();

        Assert.True(missing.Length == 0, $"{FileNames()} have no request for: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Every_request_in_the_http_file_is_a_mapped_route()
    {
        var routes = MappedRoutes();
        var stale = HttpFileRequests()
            .Where(request => !routes.Any(route => route.Matches(request.Method, request.Path)))
            .Select(request => $"{request.Method} {request.Path}")
            .ToArray();

        Assert.True(stale.Length == 0, $"{FileNames()} send requests no endpoint maps: {string.Join(", ", stale)}");
    }

    [Fact]
    public void The_http_files_send_If_Match_with_every_command_on_an_aggregate_and_X_Admin_Key_with_every_admin_request()
    {
        foreach (var request in HttpFileRequests())
        {
            // POST /api/orders creates; POST or DELETE below /api/orders/{id} changes an existing aggregate.
            var isAggregateCommand = AggregatePath().IsMatch(request.Path) && request.Method is "POST" or "DELETE";
            if (isAggregateCommand) Assert.Contains(request.Headers, h => h.StartsWith("If-Match:", StringComparison.OrdinalIgnoreCase));
            if (request.Path.StartsWith("/admin/", StringComparison.Ordinal))
                Assert.Contains(request.Headers, h => h.StartsWith("X-Admin-Key:", StringComparison.OrdinalIgnoreCase));
        }
    }

    private List<MappedRoute> MappedRoutes()
    {
        var routes = _factory!.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Select(endpoint => new MappedRoute(
                endpoint.RoutePattern.RawText ?? throw new InvalidOperationException($"{endpoint.DisplayName} has no route text"),
                endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []))
            .ToList();
        Assert.NotEmpty(routes);
        return routes;
    }

    /// <summary>The requests of the files: the request line (base URL variable and query left out) and the headers below it.</summary>
    private static List<HttpFileRequest> HttpFileRequests()
    {
        var requests = new List<HttpFileRequest>();
        HttpFileRequest? current = null;
        foreach (var line in HttpFiles().SelectMany(file => File.ReadAllLines(file.FullName).Append("")))
        {
            if (RequestLine().Match(line) is { Success: true } request)
            {
                current = new HttpFileRequest(request.Groups["method"].Value, request.Groups["path"].Value, []);
                requests.Add(current);
            }
            else if (current is not null && HeaderLine().IsMatch(line))
                current.Headers.Add(line);
            else
                current = null;
        }
        Assert.NotEmpty(requests);
        return requests;
    }

    /// <summary>The <c>.http</c> files the test project copies from <c>src/Api</c> and its feature folders.</summary>
    private static FileInfo[] HttpFiles()
    {
        var files = new DirectoryInfo(AppContext.BaseDirectory).GetFiles("*.http");
        Assert.NotEmpty(files);
        return files;
    }

    private static string FileNames() => string.Join(", ", HttpFiles().Select(f => f.Name).Order(StringComparer.Ordinal));

    public async ValueTask DisposeAsync()
    {
        if (_factory is not null) await _factory.DisposeAsync();
        await _databases.DropAllAsync();
    }

    [GeneratedRegex(@"^(?<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \{\{baseUrl\}\}(?<path>/[^?\s]*)")]
    private static partial Regex RequestLine();

    [GeneratedRegex(@"^[A-Za-z0-9-]+:\s")]
    private static partial Regex HeaderLine();

    [GeneratedRegex(@"^/api/[^/]+/[^/]+")]
    private static partial Regex AggregatePath();

    private sealed record HttpFileRequest(string Method, string Path, List<string> Headers);

    /// <summary>A route as mapped: its pattern (a parameter matches one path segment) and its methods (none: any).</summary>
    private sealed record MappedRoute(string Pattern, IReadOnlyList<string> Methods)
    {
        private readonly Regex _path = new(
            "^" + string.Join("", Regex.Split(Pattern.TrimEnd('/'), @"(\{[^}]+\})")
                .Select(part => part.StartsWith('{') ? "[^/]+" : Regex.Escape(part))) + "/?$");

        public bool Matches(string method, string path) =>
            (Methods.Count == 0 || Methods.Contains(method, StringComparer.OrdinalIgnoreCase)) && _path.IsMatch(path);

        public override string ToString() => $"{(Methods.Count == 0 ? "*" : string.Join("|", Methods))} {Pattern}";
    }
}
