using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Snapshots;
using OrdersEs.Infrastructure.Tests.EventStore;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.EventSourcing;

public class EventSourcedRepositoryTests
{
    private readonly InMemoryEventStore _store = new(TestKernel.Envelopes());
    private readonly RecordingSnapshotStore _snapshots = new();

    private EventSourcedRepository<Counter> Repository(int interval = 100, ISnapshotStore? snapshots = null) =>
        new(_store, TestKernel.Serializer(), () => new Counter(), snapshots ?? _snapshots, new RepositoryOptions { SnapshotInterval = interval });

    [Fact]
    public async Task Save_then_load_restores_state_and_version()
    {
        var repository = Repository();
        var counter = Counter.Start("c-1");
        counter.Increment(3);
        await repository.SaveAsync(counter);

        Assert.Empty(counter.PendingEvents);
        var loaded = await repository.LoadAsync("c-1");
        Assert.NotNull(loaded);
        Assert.Equal(3, loaded.Total);
        Assert.Equal(3, loaded.Version);
        Assert.Equal("c-1", loaded.Id);
        Assert.Empty(loaded.PendingEvents);
    }

    [Theory]
    [InlineData(100)] // no snapshot: the whole stream is read
    [InlineData(3)]   // a snapshot at version 3, two events after it: read from the snapshot's own last event on
    [InlineData(1)]   // a snapshot at the head: only the snapshot's own last event is read
    public async Task Load_with_tenant_reads_the_stream_once_and_answers_its_tenant(int interval)
    {
        var counting = new LoadRecordingEventStore(_store);
        var repository = new EventSourcedRepository<Counter>(counting, TestKernel.Serializer(), () => new Counter(), new InMemorySnapshotStore(),
            new RepositoryOptions { SnapshotInterval = interval });
        var counter = Counter.Start("t-1");
        counter.Increment(3);
        await repository.SaveAsync(counter, new EventContext("acme"));
        counter.Increment(2);
        await repository.SaveAsync(counter, new EventContext("acme"));

        counting.Forget();
        var loaded = await repository.LoadWithTenantAsync("t-1");
        Assert.NotNull(loaded);
        Assert.Equal("acme", loaded.TenantId);
        Assert.Equal(5, loaded.Aggregate.Total);
        Assert.Equal(5, loaded.Aggregate.Version);
        Assert.Single(counting.LoadsAfter);
        Assert.Null(await repository.LoadWithTenantAsync("missing"));
    }


    [Fact]
    public async Task Load_of_unknown_stream_is_null()
    {
        Assert.Null(await Repository().LoadAsync("missing"));
    }

    [Fact]
    public async Task Save_uses_version_minus_pending_as_expected_version()
    {
        var repository = Repository();
        var counter = Counter.Start("c-2");
        counter.Increment(2);
        await repository.SaveAsync(counter);

        var first = (await repository.LoadAsync("c-2"))!;
        var second = (await repository.LoadAsync("c-2"))!;
        first.Increment(1);
        second.Increment(1);
        await repository.SaveAsync(first);
        var error = await Assert.ThrowsAsync<ConcurrencyException>(() => repository.SaveAsync(second));
        Assert.Equal(2, error.ExpectedVersion);
        Assert.Equal(3, error.ActualVersion);
        Assert.Single(second.PendingEvents);
    }

    [Fact]
    public async Task Save_with_nothing_pending_writes_nothing()
    {
        var repository = Repository();
        var counter = Counter.Start("c-3");
        Assert.Empty(await repository.SaveAsync(counter));
        Assert.Equal(0, await _store.LatestVersionAsync("c-3"));
        Assert.Empty(_snapshots.Saved);
    }

    [Theory]
    [InlineData(95, 10, true)]
    [InlineData(99, 1, true)]
    [InlineData(100, 1, false)]
    [InlineData(0, 99, false)]
    [InlineData(0, 100, true)]
    [InlineData(150, 100, true)]
    public async Task Snapshot_is_taken_when_a_save_crosses_a_multiple_of_the_interval(int before, int batch, bool expected)
    {
        var repository = Repository(snapshots: new InMemorySnapshotStore());
        var counter = Counter.Start("c-x");
        if (before > 0)
        {
            counter.Increment(before);
            await repository.SaveAsync(counter);
        }
        _snapshots.Saved.Clear();
        var recording = Repository();
        counter.Increment(batch);
        await recording.SaveAsync(counter);

        Assert.Equal(expected, _snapshots.Saved.Count == 1);
        if (expected) Assert.Equal(before + batch, _snapshots.Saved[0].Sequence);
    }

    [Fact]
    public async Task Load_restores_snapshot_and_replays_only_later_events()
    {
        var store = new LoadRecordingEventStore(_store);
        var snapshots = new InMemorySnapshotStore();
        var repository = new EventSourcedRepository<Counter>(store, TestKernel.Serializer(), () => new Counter(), snapshots,
            new RepositoryOptions { SnapshotInterval = 10 });
        var counter = Counter.Start("c-4");
        counter.Increment(25);
        await repository.SaveAsync(counter);
        counter.Increment(3);
        await repository.SaveAsync(counter);

        var loaded = (await repository.LoadAsync("c-4"))!;
        Assert.Equal(28, loaded.Total);
        Assert.Equal(28, loaded.Version);
        Assert.Equal(25, store.LoadsAfter[^1]);
    }

    [Fact]
    public async Task Snapshot_with_another_schema_version_is_ignored_and_state_rebuilt()
    {
        var snapshots = new InMemorySnapshotStore();
        var repository = Repository(interval: 5, snapshots: snapshots);
        var counter = Counter.Start("c-5");
        counter.Increment(5);
        await repository.SaveAsync(counter);
        await snapshots.SaveAsync(new Snapshot("c-5", "Counter", 6, """{"total":1000}""", DateTimeOffset.UtcNow, SchemaVersion: 99));

        var loaded = (await repository.LoadAsync("c-5"))!;
        Assert.Equal(5, loaded.Total);
        Assert.Equal(5, loaded.Version);
    }

    [Fact]
    public async Task Snapshot_that_does_not_deserialize_is_ignored_and_state_rebuilt()
    {
        var snapshots = new InMemorySnapshotStore();
        var repository = Repository(interval: 1000, snapshots: snapshots);
        var counter = Counter.Start("c-6");
        counter.Increment(4);
        await repository.SaveAsync(counter);
        await snapshots.SaveAsync(new Snapshot("c-6", "Counter", 2, """{"total":"not a number"}""", DateTimeOffset.UtcNow));

        var loaded = (await repository.LoadAsync("c-6"))!;
        Assert.Equal(4, loaded.Total);
        Assert.Equal(4, loaded.Version);
    }

    [Fact]
    public async Task Replayed_envelope_of_another_aggregate_id_throws()
    {
        var repository = new EventSourcedRepository<Counter>(new CrossWiredStore(_store, "other", null), TestKernel.Serializer(), () => new Counter());
        var counter = Counter.Start("c-7");
        counter.Increment(1);
        await repository.SaveAsync(counter);
        var error = await Assert.ThrowsAsync<EventHandlerException>(() => repository.LoadAsync("c-7"));
        Assert.Contains("other", error.Message);
    }

    [Fact]
    public async Task Replayed_envelope_of_another_aggregate_type_throws()
    {
        var repository = new EventSourcedRepository<Counter>(new CrossWiredStore(_store, null, "Gauge"), TestKernel.Serializer(), () => new Counter());
        var counter = Counter.Start("c-8");
        counter.Increment(1);
        await repository.SaveAsync(counter);
        await Assert.ThrowsAsync<EventHandlerException>(() => repository.LoadAsync("c-8"));
    }

    [Fact]
    public async Task Envelope_with_empty_aggregate_type_is_accepted()
    {
        var repository = new EventSourcedRepository<Counter>(new CrossWiredStore(_store, null, ""), TestKernel.Serializer(), () => new Counter());
        var counter = Counter.Start("c-9");
        counter.Increment(2);
        await repository.SaveAsync(counter);
        Assert.Equal(2, (await repository.LoadAsync("c-9"))!.Total);
    }

    [Fact]
    public async Task State_with_a_nested_list_and_an_enum_round_trips_through_repository_with_snapshots()
    {
        var serializer = new EventSerializer(new EventTypeRegistry().RegisterAssembly(typeof(Counter).Assembly));
        var store = new InMemoryEventStore(new EnvelopeFactory(serializer, TimeProvider.System));
        var snapshots = new InMemorySnapshotStore();
        var repository = new EventSourcedRepository<Counter>(store, serializer, () => new Counter(), snapshots,
            new RepositoryOptions { SnapshotInterval = 2 });
        var counter = Counter.Start("k-1");
        counter.Tally("ann", [new ThingCount("A", 2), new ThingCount("B", 1)]);
        counter.Rename("kitchen");
        counter.Count("A", 3);
        await repository.SaveAsync(counter);

        Assert.Equal(3, (await snapshots.LoadAsync("k-1"))!.Sequence);
        var loaded = (await repository.LoadAsync("k-1"))!;
        Assert.Equal(("kitchen", CounterStatus.Open, 6, 3), (loaded.Name, loaded.Status, loaded.Total, loaded.Version));
        Assert.Equal([new ThingCount("A", 5), new ThingCount("B", 1)], loaded.Things);
        loaded.Close("full");
        await repository.SaveAsync(loaded);

        Assert.Contains("\"closed\"", (await snapshots.LoadAsync("k-1"))!.Payload);
        var reloaded = (await repository.LoadAsync("k-1"))!;
        Assert.Equal(("kitchen", CounterStatus.Closed, 6, 4), (reloaded.Name, reloaded.Status, reloaded.Total, reloaded.Version));
        Assert.Equal(loaded.Things, reloaded.Things);
    }

    private sealed class RecordingSnapshotStore : ISnapshotStore
    {
        public List<Snapshot> Saved { get; } = [];

        public Task SaveAsync(Snapshot snapshot, CancellationToken cancellationToken = default)
        {
            Saved.Add(snapshot);
            return Task.CompletedTask;
        }

        public Task<Snapshot?> LoadAsync(string aggregateId, CancellationToken cancellationToken = default) => Task.FromResult<Snapshot?>(null);
    }



    /// <summary>Simulates a store bug: loads come back labelled with another aggregate id or type.</summary>
    private sealed class CrossWiredStore(IEventStore inner, string? aggregateId, string? aggregateType) : DelegatingEventStore(inner)
    {
        public override async Task<IReadOnlyList<StoredEventEnvelope>> LoadAsync(string id, int afterSequence = 0, CancellationToken cancellationToken = default) =>
            (await base.LoadAsync(id, afterSequence, cancellationToken))
                .Select(e => e with { AggregateId = aggregateId ?? e.AggregateId, AggregateType = aggregateType ?? e.AggregateType })
                .ToArray();
    }
}
