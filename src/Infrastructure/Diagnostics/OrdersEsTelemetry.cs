using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OrdersEs.Infrastructure.Diagnostics;

/// <summary>
/// The service's <see cref="ActivitySource"/> and <see cref="Meter"/> (both named <see cref="Name"/>): appended events,
/// append duration, outbox deliveries, dead letters, settled dead letters and delivery lag, and projection lag. Recording allocates nothing and costs next to nothing with no listener.
/// </summary>
public static class OrdersEsTelemetry
{
    public const string Name = "OrdersEs";

    public static readonly ActivitySource ActivitySource = new(Name);

    public static readonly Meter Meter = new(Name);

    private static readonly Counter<long> EventsAppended =
        Meter.CreateCounter<long>("orderses.eventstore.events_appended", "{event}", "Events appended to the event store.");

    private static readonly Histogram<double> AppendDuration =
        Meter.CreateHistogram<double>("orderses.eventstore.append.duration", "s", "Duration of event store appends, successful or not.");

    private static readonly Counter<long> OutboxDelivered =
        Meter.CreateCounter<long>("orderses.outbox.delivered", "{message}", "Outbox messages the broker accepted.");

    private static readonly Counter<long> OutboxDeadLettered =
        Meter.CreateCounter<long>("orderses.outbox.dead_lettered", "{message}", "Outbox messages moved to the dead-letter table.");

    private static readonly Counter<long> OutboxDeadLettersSettled =
        Meter.CreateCounter<long>("orderses.outbox.dead_letters_settled", "{message}",
            "Dead letters an operator settled: put back for delivery (action=retried) or dropped (action=skipped).");

    private static readonly Histogram<double> OutboxDeliveryLag =
        Meter.CreateHistogram<double>("orderses.outbox.delivery.lag", "s", "Time from an event's append to the broker's confirmation of its message.");

    private static long _highestAppendedPosition;

    /// <summary>The highest global position this process has appended (0 before the first append).</summary>
    public static long HighestAppendedPosition => Interlocked.Read(ref _highestAppendedPosition);

    /// <summary>Records one message the broker confirmed, <paramref name="lag"/> after its event was appended.</summary>
    public static void RecordOutboxDelivery(TimeSpan lag)
    {
        OutboxDelivered.Add(1);
        OutboxDeliveryLag.Record(Math.Max(0, lag.TotalSeconds));
    }

    public static void RecordOutboxDeadLetter() => OutboxDeadLettered.Add(1);

    /// <summary>Records one dead letter an operator retried or skipped.</summary>
    public static void RecordOutboxDeadLetterSettled(bool retried) =>
        OutboxDeadLettersSettled.Add(1, new KeyValuePair<string, object?>("action", retried ? "retried" : "skipped"));

    /// <summary>Records one append call that began at <paramref name="startTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public static void RecordAppend(string provider, int events, long lastPosition, long startTimestamp, bool succeeded)
    {
        var providerTag = new KeyValuePair<string, object?>("provider", provider);
        if (succeeded)
        {
            EventsAppended.Add(events, providerTag);
            long seen;
            while (lastPosition > (seen = Interlocked.Read(ref _highestAppendedPosition))
                   && Interlocked.CompareExchange(ref _highestAppendedPosition, lastPosition, seen) != seen)
            {
            }
        }
        AppendDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, providerTag,
            new KeyValuePair<string, object?>("outcome", succeeded ? "ok" : "failed"));
    }
}
