using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Projections;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Diagnostics;

/// <summary>Background work logs inside a scope with its trace id and the correlation ids of the events it handles.</summary>
public class WorkScopeTests
{
    [Fact]
    public async Task A_failing_projection_logs_inside_a_scope_naming_the_failing_event_s_correlation_id_and_a_trace_id()
    {
        var logs = new ScopedLogs();
        using var factory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        var signal = new EventStoreSignal();
        var store = new InMemoryEventStore(TestKernel.Envelopes(), null, signal);
        var counter = Counter.Start("c-1");
        counter.Increment(1);
        await store.AppendAsync("c-1", counter.AggregateType, counter.PendingEvents, 0, new EventContext("acme", "flow-42"));

        var projection = new FunctionProjection("scoped", (_, _) => throw new InvalidOperationException("cannot apply"));
        using var runner = new ProjectionRunner(projection, store, signal, new InProcessProjectionLease(), new ProjectionMonitor(TimeProvider.System),
            new ProjectionOptions { PollInterval = TimeSpan.FromMilliseconds(50), InitialRetryDelay = TimeSpan.FromMilliseconds(20) },
            TimeProvider.System, factory.CreateLogger<ProjectionRunner>());
        await runner.StartAsync(CancellationToken.None);
        try
        {
            for (var i = 0; i < 200 && !logs.Lines.Any(l => l.Level == LogLevel.Warning); i++) await Task.Delay(20);
        }
        finally
        {
            await runner.StopAsync(CancellationToken.None);
        }

        var failure = logs.Lines.First(l => l.Level == LogLevel.Warning);
        Assert.Equal("flow-42", failure.Scopes["CorrelationId"]);
        Assert.Matches("^[0-9a-f]{32}$", (string)failure.Scopes["TraceId"]!);
        Assert.Equal("projection scoped", failure.Scopes["Work"]);
    }

    private sealed class ScopedLogs : ILoggerProvider, ISupportExternalScope
    {
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

        public ConcurrentQueue<(LogLevel Level, string Message, Dictionary<string, object?> Scopes)> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public void Dispose()
        {
        }

        private sealed class Logger(ScopedLogs owner) : ILogger
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
                owner.Lines.Enqueue((logLevel, formatter(state, exception), scopes));
            }
        }
    }
}
