using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Snapshots;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>Options of <see cref="EventSourcedRepository{T}"/>.</summary>
public sealed record RepositoryOptions
{
    /// <summary>A snapshot is taken whenever a save crosses a multiple of this many events.</summary>
    public int SnapshotInterval { get; init; } = 100;
}

/// <summary>An aggregate as loaded, with the tenant of its stream (null: no tenant).</summary>
public sealed record LoadedAggregate<T>(T Aggregate, string? TenantId) where T : AggregateRoot;

/// <summary>
/// Loads aggregates by replaying their stream (from the latest usable snapshot on) and saves their pending
/// events with optimistic concurrency, snapshotting when a save crosses the interval.
/// </summary>
public sealed class EventSourcedRepository<T> where T : AggregateRoot
{
    private readonly IEventStore _store;
    private readonly EventSerializer _serializer;
    private readonly Func<T> _factory;
    private readonly ISnapshotStore? _snapshots;
    private readonly SnapshotCodec<T>? _codec;
    private readonly int _snapshotInterval;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    public EventSourcedRepository(
        IEventStore store,
        EventSerializer serializer,
        Func<T> factory,
        ISnapshotStore? snapshots = null,
        RepositoryOptions? options = null,
        TimeProvider? timeProvider = null,
        ILogger<EventSourcedRepository<T>>? logger = null)
    {
        _store = store;
        _serializer = serializer;
        _factory = factory;
        _snapshots = snapshots;
        _codec = snapshots is null ? null : SnapshotCodec<T>.ForAggregate();
        _snapshotInterval = (options ?? new RepositoryOptions()).SnapshotInterval;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_snapshotInterval, nameof(RepositoryOptions.SnapshotInterval));
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<EventSourcedRepository<T>>.Instance;
    }

    /// <summary>The aggregate rebuilt from its snapshot and later events; null when the stream is unknown.</summary>
    public async Task<T?> LoadAsync(string aggregateId, CancellationToken cancellationToken = default) =>
        (await LoadCoreAsync(aggregateId, withTenant: false, cancellationToken))?.Aggregate;

    /// <summary>
    /// <see cref="LoadAsync"/>, with the tenant its stream's last event carries, from the same one read of the stream
    /// (after a snapshot, that read starts one event earlier, at the snapshot's last). Null when the stream is unknown.
    /// </summary>
    public Task<LoadedAggregate<T>?> LoadWithTenantAsync(string aggregateId, CancellationToken cancellationToken = default) =>
        LoadCoreAsync(aggregateId, withTenant: true, cancellationToken);

    private async Task<LoadedAggregate<T>?> LoadCoreAsync(string aggregateId, bool withTenant, CancellationToken cancellationToken)
    {
        var aggregate = _factory();
        var restored = await TryRestoreSnapshotAsync(aggregate, aggregateId, cancellationToken);
        if (!restored) aggregate = _factory();
        var snapshotVersion = aggregate.Version;

        var readFrom = restored && withTenant ? snapshotVersion - 1 : snapshotVersion;
        var envelopes = await _store.LoadAsync(aggregateId, readFrom, cancellationToken);
        if (!restored && envelopes.Count == 0) return null;
        if (!restored) aggregate.AssignId(aggregateId);

        string? tenantId = null;
        foreach (var envelope in envelopes)
        {
            RequireOf(aggregate, aggregateId, envelope);
            tenantId = envelope.TenantId;
            // Read only for its tenant: the snapshot already holds its effect.
            if (restored && envelope.Sequence == snapshotVersion) continue;
            aggregate.Replay(_serializer.Deserialize(envelope));
        }
        return new LoadedAggregate<T>(aggregate, tenantId);
    }

    /// <summary>
    /// The aggregate as it was at <paramref name="point"/>: its events replayed (upcast, as on every read) up to the last
    /// one the point includes. Null when the stream is unknown, holds another aggregate type, or the point is before its
    /// first event. The tenant is the stream's as <see cref="LoadWithTenantAsync"/> reports it (its last event's), so a
    /// stream belongs to the same tenant at every point of its history.
    /// </summary>
    /// <remarks>
    /// Replays from the first event and never uses a snapshot: the snapshot store keeps only a stream's newest snapshot,
    /// which may be past the point, and the answer needs the first event's time anyway, so the stream is read from its
    /// start in one read either way.
    /// </remarks>
    public async Task<HistoricalAggregate<T>?> LoadAtAsync(string aggregateId, HistoryPoint point, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(point);
        var envelopes = await _store.LoadAsync(aggregateId, 0, cancellationToken);
        var last = point.LastIncluded(envelopes);
        if (last < 0) return null;
        var aggregate = _factory();
        if (!string.IsNullOrEmpty(envelopes[0].AggregateType) && envelopes[0].AggregateType != aggregate.AggregateType) return null;
        aggregate.AssignId(aggregateId);
        for (var i = 0; i <= last; i++)
        {
            RequireOf(aggregate, aggregateId, envelopes[i]);
            aggregate.Replay(_serializer.Deserialize(envelopes[i]));
        }
        return new HistoricalAggregate<T>(aggregate, envelopes[^1].TenantId, envelopes[0].OccurredAt, envelopes[last].OccurredAt);
    }

    private static void RequireOf(T aggregate, string aggregateId, StoredEventEnvelope envelope)
    {
        if (!string.Equals(envelope.AggregateId, aggregateId, StringComparison.Ordinal))
            throw new EventHandlerException($"Event {envelope.EventId} belongs to aggregate '{envelope.AggregateId}', not '{aggregateId}'.");
        if (!string.IsNullOrEmpty(envelope.AggregateType) && envelope.AggregateType != aggregate.AggregateType)
            throw new EventHandlerException($"Event {envelope.EventId} belongs to a {envelope.AggregateType}, not a {aggregate.AggregateType}.");
    }

    /// <summary>Appends the pending events (nothing pending: no write), clears them, and snapshots on crossing.</summary>
    public async Task<IReadOnlyList<StoredEventEnvelope>> SaveAsync(T aggregate, EventContext? context = null, CancellationToken cancellationToken = default)
    {
        var pending = aggregate.PendingEvents;
        if (pending.Count == 0) return [];
        var previousVersion = aggregate.Version - pending.Count;
        var stored = await _store.AppendAsync(aggregate.Id, aggregate.AggregateType, pending, previousVersion, context, cancellationToken);
        aggregate.ClearPendingEvents();

        if (_codec is not null && aggregate.Version / _snapshotInterval > previousVersion / _snapshotInterval)
        {
            var snapshot = new Snapshot(aggregate.Id, aggregate.AggregateType, aggregate.Version,
                _codec.Capture(aggregate), _timeProvider.GetUtcNow(), _codec.SchemaVersion);
            await _snapshots!.SaveAsync(snapshot, cancellationToken);
        }
        return stored;
    }

    private async Task<bool> TryRestoreSnapshotAsync(T aggregate, string aggregateId, CancellationToken cancellationToken)
    {
        if (_codec is null) return false;
        var snapshot = await _snapshots!.LoadAsync(aggregateId, cancellationToken);
        if (snapshot is null) return false;
        if (snapshot.SchemaVersion != _codec.SchemaVersion || snapshot.AggregateType != aggregate.AggregateType)
        {
            _logger.LogWarning("Ignoring snapshot of {AggregateId} at {Sequence}: schema {Found}, expected {Expected}; rebuilding from events",
                aggregateId, snapshot.Sequence, snapshot.SchemaVersion, _codec.SchemaVersion);
            return false;
        }
        if (!_codec.TryRestore(aggregate, snapshot.Payload, out var error))
        {
            _logger.LogWarning("Ignoring snapshot of {AggregateId} at {Sequence}: {Error}; rebuilding from events",
                aggregateId, snapshot.Sequence, error);
            return false;
        }
        aggregate.RestoreIdentity(aggregateId, snapshot.Sequence);
        return true;
    }
}
