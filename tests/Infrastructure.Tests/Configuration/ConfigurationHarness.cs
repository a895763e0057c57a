using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Tests.Configuration;

/// <summary>
/// Real configuration and a real service provider built the way the Api builds them, with the tests' <see cref="Counter"/>
/// as the one aggregate (registered by hand, so no read model of the test assembly runs beside the configuration under test).
/// </summary>
internal static class ConfigurationHarness
{
    public static IConfiguration ConfigurationOf(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(value => KeyValuePair.Create(value.Key, value.Value)))
            .Build();

    public static ServiceProvider Provider(IConfiguration configuration, CapturedLogs? logs = null, Action<IServiceCollection>? before = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging => { if (logs is not null) logging.AddProvider(logs); });
        before?.Invoke(services);
        services.AddEventSourcing(configuration).AddAggregate(() => new Counter());
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public static ServiceProvider Provider(params (string Key, string? Value)[] values) => Provider(ConfigurationOf(values));
}

/// <summary>Every formatted log message, with the values of its structured arguments.</summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _messages = new();

    public IReadOnlyCollection<string> Messages => _messages;

    public string All => string.Join("\n", _messages);

    public ILogger CreateLogger(string categoryName) => new Logger(_messages);

    public void Dispose() { }

    private sealed class Logger(ConcurrentQueue<string> messages) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var arguments = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            messages.Enqueue($"{formatter(state, exception)} | {arguments} | {exception}");
        }
    }
}
