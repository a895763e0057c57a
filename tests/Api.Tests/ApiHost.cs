using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using OrdersEs.TestSupport;
using Xunit;

namespace OrdersEs.Api.Tests;

/// <summary>
/// The service over one database, configured only through the <c>pyfly:</c> keys as an operator would, in the
/// Development environment unless <paramref name="environment"/> names another.
/// </summary>
public sealed class ApiFactory(
    string databaseUrl, string? adminKey = "test-admin-key", IReadOnlyDictionary<string, string>? settings = null,
    string? environment = null) : WebApplicationFactory<Program>
{
    public string DatabaseUrl { get; } = databaseUrl;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("pyfly:eventsourcing:store:url", DatabaseUrl);
        builder.UseSetting("pyfly:data:relational:url", DatabaseUrl);
        // The in-process bus, whatever the service's own settings choose: these tests are not about the broker.
        builder.UseSetting("pyfly:eda:provider", "memory");
        if (environment is not null) builder.UseEnvironment(environment);
        // No key means none at all, whatever appsettings.Development.json offers for local use.
        builder.UseSetting("pyfly:admin:api-key", adminKey ?? "");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) builder.UseSetting(key, value);
    }

    /// <summary>A client acting for <paramref name="tenant"/> (none: no <c>X-Tenant-Id</c>).</summary>
    public HttpClient Client(string? tenant)
    {
        var client = CreateClient();
        if (tenant is not null) client.DefaultRequestHeaders.Add("X-Tenant-Id", tenant);
        return client;
    }
}

/// <summary>
/// Fresh databases for the API tests: a SQLite file, or a PostgreSQL database on <see cref="TestServers.Postgres"/>
/// (<c>ORDERSES_TEST_POSTGRES</c>, else a Testcontainers container when a Docker engine answers).
/// </summary>
public abstract class ApiDatabase
{
    /// <summary>Why the provider cannot run here, or null.</summary>
    public abstract Task<string?> UnavailableAsync();

    /// <summary>A URL of a new, empty database.</summary>
    public abstract Task<string> CreateAsync();

    public abstract Task DropAllAsync();

    /// <summary>Settings the service over these databases needs beyond the URL (none by default).</summary>
    public virtual IReadOnlyDictionary<string, string>? Settings => null;
}

/// <summary>
/// No database at all: events and snapshots in memory (<c>provider: memory</c>), read models in the service's private
/// in-memory SQLite database. Nothing to create or drop.
/// </summary>
public sealed class MemoryDatabases : ApiDatabase
{
    public override Task<string?> UnavailableAsync() => Task.FromResult<string?>(null);

    public override Task<string> CreateAsync() => Task.FromResult("sqlite:///:memory:");

    public override Task DropAllAsync() => Task.CompletedTask;

    public override IReadOnlyDictionary<string, string> Settings { get; } = new Dictionary<string, string>
    {
        ["pyfly:eventsourcing:store:provider"] = "memory",
        ["pyfly:eventsourcing:snapshot:provider"] = "memory",
    };
}

/// <summary>SQLite files in the temp folder.</summary>
public sealed class SqliteDatabases : ApiDatabase
{
    private readonly List<string> _files = [];

    public override Task<string?> UnavailableAsync() => Task.FromResult<string?>(null);

    public override Task<string> CreateAsync()
    {
        var path = Path.Combine(Path.GetTempPath(), $"orderses-api-{Guid.NewGuid():N}.db");
        _files.Add(path);
        return Task.FromResult("sqlite:///" + path);
    }

    public override Task DropAllAsync()
    {
        foreach (var path in _files)
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
                File.Delete(file);
        return Task.CompletedTask;
    }
}

/// <summary>Databases created on the <see cref="TestServers.Postgres"/> server, dropped afterwards.</summary>
public sealed class PostgresDatabases : ApiDatabase
{
    private readonly List<string> _names = [];
    private string? _server;

    public override async Task<string?> UnavailableAsync() => (await TestServers.Postgres.FindAsync()).Reason;

    public override async Task<string> CreateAsync()
    {
        _server ??= await TestServers.Postgres.AddressOrSkipAsync();
        var name = "orderses_api_" + Guid.NewGuid().ToString("N")[..16];
        await using (var admin = new NpgsqlConnection(_server))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        _names.Add(name);
        return new NpgsqlConnectionStringBuilder(_server) { Database = name }.ConnectionString;
    }

    public override async Task DropAllAsync()
    {
        if (_names.Count == 0) return;
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(_server);
        await admin.OpenAsync();
        foreach (var name in _names)
        {
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }
}

/// <summary>One service per test class and provider; tests keep apart by using a tenant of their own.</summary>
public abstract class ApiFixture(ApiDatabase databases) : IAsyncLifetime
{
    private ApiFactory? _factory;
    private string? _unavailable;

    public ApiDatabase Databases { get; } = databases;

    /// <summary>The shared service; skips the test with the reason when the provider is unavailable.</summary>
    public ApiFactory Factory
    {
        get
        {
            if (_unavailable is { } reason) Assert.Skip(reason);
            return _factory!;
        }
    }

    public async ValueTask InitializeAsync()
    {
        _unavailable = await Databases.UnavailableAsync();
        if (_unavailable is not null) return;
        _factory = new ApiFactory(await Databases.CreateAsync(), settings: Databases.Settings);
        _ = _factory.Server; // start the host now, outside any test's clock
    }

    public async ValueTask DisposeAsync()
    {
        if (_factory is not null) await _factory.DisposeAsync();
        await Databases.DropAllAsync();
        GC.SuppressFinalize(this);
    }
}

public sealed class MemoryApiFixture() : ApiFixture(new MemoryDatabases());

public sealed class SqliteApiFixture() : ApiFixture(new SqliteDatabases());

public sealed class PostgresApiFixture() : ApiFixture(new PostgresDatabases());

/// <summary>Helpers for reading answers.</summary>
public static class ApiCalls
{
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static HttpRequestMessage WithIfMatch(this HttpRequestMessage request, string etag)
    {
        request.Headers.TryAddWithoutValidation("If-Match", etag);
        return request;
    }

    public static HttpRequestMessage Post(string path, object? body) =>
        new(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body) };

    public static StringContent Raw(string body, string mediaType) =>
        new(body, new MediaTypeHeaderValue(mediaType));

    /// <summary>Asserts an RFC 9457 problem of this API: status, stable type, title and trace id; never a stack trace.</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, int status, string type)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal("https://orderses.dev/problems/" + type, problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        return problem;
    }

    public static string[] ErrorFields(this JsonElement problem) =>
        problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToArray();
}
