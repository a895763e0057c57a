using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace OrdersEs.Api.Tests.Operations;

/// <summary>The correlation id: the caller's, else the request's W3C trace id; echoed on every answer, and in the log scope of the request.</summary>
public class CorrelationTests
{
    private const string TraceId = "0af7651916cd43dd8448eb211c80319c";

    private static WebApplicationFactory<Program> Service(ScopeCapture? logs = null) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("pyfly:eventsourcing:store:provider", "memory");
            builder.UseSetting("pyfly:eventsourcing:snapshot:provider", "memory");
            builder.UseSetting("Logging:LogLevel:Default", "Information");
            if (logs is not null) builder.ConfigureServices(services => services.AddLogging(l => l.AddProvider(logs)));
        });

    private static HttpRequestMessage Live(string? correlation, string? traceparent, string? tenant = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        if (correlation is not null) request.Headers.Add("X-Correlation-Id", correlation);
        if (traceparent is not null) request.Headers.Add("traceparent", traceparent);
        if (tenant is not null) request.Headers.TryAddWithoutValidation("X-Tenant-Id", tenant);
        return request;
    }

    [Fact]
    public async Task Without_one_the_correlation_id_is_the_w3c_trace_id_of_the_request()
    {
        await using var service = Service();
        var response = await service.CreateClient().SendAsync(Live(null, $"00-{TraceId}-b7ad6b7169203331-01"));
        Assert.Equal(TraceId, Assert.Single(response.Headers.GetValues("X-Correlation-Id")));

        var fresh = await service.CreateClient().SendAsync(Live(null, null));
        Assert.Matches("^[0-9a-f]{32}$", Assert.Single(fresh.Headers.GetValues("X-Correlation-Id")));
    }

    [Fact]
    public async Task The_callers_correlation_id_wins_over_the_trace_id()
    {
        await using var service = Service();
        var response = await service.CreateClient().SendAsync(Live("order-flow-42", $"00-{TraceId}-b7ad6b7169203331-01"));
        Assert.Equal("order-flow-42", Assert.Single(response.Headers.GetValues("X-Correlation-Id")));
    }

    [Fact]
    public async Task A_refused_request_echoes_the_correlation_id_and_logs_its_failure_inside_a_scope_naming_it()
    {
        var logs = new ScopeCapture();
        await using var service = Service(logs);
        var response = await service.CreateClient().SendAsync(Live("flow-7", null, tenant: "two words"));

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("flow-7", Assert.Single(response.Headers.GetValues("X-Correlation-Id")));
        Assert.Contains(logs.Lines, line => line.Category.EndsWith("ApiExceptionHandler", StringComparison.Ordinal)
            && line.Scopes.TryGetValue("CorrelationId", out var id) && Equals(id, "flow-7"));
    }

    /// <summary>Every log line with the values of the scopes around it.</summary>
    public sealed class ScopeCapture : ILoggerProvider, ISupportExternalScope
    {
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

        public ConcurrentQueue<(string Category, string Message, Dictionary<string, object?> Scopes)> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public void Dispose()
        {
        }

        private sealed class Logger(ScopeCapture owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var scopes = new Dictionary<string, object?>();
                owner._scopes.ForEachScope((scope, values) =>
                {
                    if (scope is IEnumerable<KeyValuePair<string, object?>> pairs)
                        foreach (var (key, value) in pairs) values[key] = value;
                }, scopes);
                owner.Lines.Enqueue((category, formatter(state, exception), scopes));
            }
        }
    }
}
