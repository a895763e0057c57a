using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>
/// A point in a stream's history that a historical load stops at: after a version (<see cref="AtVersion"/>), or after
/// the last event that occurred at or before a time (<see cref="AsOf"/>).
/// </summary>
public abstract record HistoryPoint
{
    private HistoryPoint()
    {
    }

    /// <summary>The state after the event of sequence <paramref name="version"/> (at least 1), or the latest one when the stream is shorter.</summary>
    public static HistoryPoint AtVersion(int version)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        return new ByVersion(version);
    }

    /// <summary>The state after the last event whose <c>occurred_at</c> is at or before <paramref name="time"/>.</summary>
    public static HistoryPoint AsOf(DateTimeOffset time) => new ByTime(time);

    /// <summary>
    /// The index in <paramref name="stream"/> (in sequence order) of the last event this point includes; -1 when it
    /// includes none (the point is before the stream began, or the stream is empty). The events before it are included
    /// too, whatever their times: a state is always a prefix of the stream.
    /// </summary>
    internal abstract int LastIncluded(IReadOnlyList<StoredEventEnvelope> stream);

    private sealed record ByVersion(int Sequence) : HistoryPoint
    {
        internal override int LastIncluded(IReadOnlyList<StoredEventEnvelope> stream)
        {
            var last = -1;
            for (var i = 0; i < stream.Count && stream[i].Sequence <= Sequence; i++) last = i;
            return last;
        }

        public override string ToString() => $"version {Sequence}";
    }

    private sealed record ByTime(DateTimeOffset Instant) : HistoryPoint
    {
        // The last such event, not the first later one: clocks of several writers (pyfly's too) may disagree slightly.
        internal override int LastIncluded(IReadOnlyList<StoredEventEnvelope> stream)
        {
            for (var i = stream.Count - 1; i >= 0; i--)
                if (stream[i].OccurredAt <= Instant) return i;
            return -1;
        }

        public override string ToString() => $"as of {Instant:O}";
    }
}

/// <summary>
/// An aggregate as it was at a <see cref="HistoryPoint"/>: its state and <see cref="AggregateRoot.Version"/> after the
/// last included event, the tenant of its stream (null: no tenant), when its first event occurred and when the last
/// included one did.
/// </summary>
public sealed record HistoricalAggregate<T>(T Aggregate, string? TenantId, DateTimeOffset FirstOccurredAt, DateTimeOffset LastOccurredAt)
    where T : AggregateRoot;
