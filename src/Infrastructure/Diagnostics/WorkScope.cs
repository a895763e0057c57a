using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Infrastructure.Diagnostics;

/// <summary>
/// One batch of background work (a projection batch, an outbox round) as a span of <see cref="OrdersEsTelemetry"/> and a log
/// scope carrying its <c>TraceId</c> and the <c>CorrelationId</c> of the events it handles, so every line it logs can be
/// found from the request that caused it. The trace id is the span's, or a fresh one when nothing listens to spans.
/// </summary>
public sealed class WorkScope : IDisposable
{
    private const int MaxCorrelationIds = 8;
    private readonly Activity? _activity;
    private readonly IDisposable? _scope;

    private WorkScope(ILogger logger, string name, IReadOnlyList<StoredEventEnvelope> events, string? correlationId)
    {
        _activity = OrdersEsTelemetry.ActivitySource.StartActivity(name, ActivityKind.Internal);
        _activity?.SetTag("orderses.events", events.Count);
        if (!logger.IsEnabled(LogLevel.Critical)) return;
        var traceId = _activity?.TraceId.ToHexString() ?? ActivityTraceId.CreateRandom().ToHexString();
        _scope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["TraceId"] = traceId,
            ["Work"] = name,
            ["CorrelationId"] = correlationId ?? CorrelationIds(events),
        });
    }

    /// <summary>A batch of events: the scope names their correlation ids (the first few, distinct).</summary>
    public static WorkScope ForEvents(ILogger logger, string name, IReadOnlyList<StoredEventEnvelope> events) => new(logger, name, events, null);

    /// <summary>One event's work inside a batch: the scope names its correlation id.</summary>
    public static WorkScope ForEvent(ILogger logger, string name, StoredEventEnvelope envelope) =>
        new(logger, name, [envelope], envelope.Metadata.GetValueOrDefault(EventMetadata.CorrelationId) ?? "");

    private static string CorrelationIds(IReadOnlyList<StoredEventEnvelope> events)
    {
        var ids = events.Select(e => e.Metadata.GetValueOrDefault(EventMetadata.CorrelationId)).OfType<string>().Distinct().ToArray();
        return ids.Length <= MaxCorrelationIds ? string.Join(",", ids) : string.Join(",", ids.Take(MaxCorrelationIds)) + $",+{ids.Length - MaxCorrelationIds}";
    }

    public void Dispose()
    {
        _scope?.Dispose();
        _activity?.Dispose();
    }
}
