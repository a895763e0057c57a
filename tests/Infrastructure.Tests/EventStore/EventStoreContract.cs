using System.Text.Json;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.EventStore;

/// <summary>
/// The behaviour every event store provider must have (SEMANTICS 2-3). Each provider derives one class from
/// this and supplies a fresh, empty store; a provider whose server is missing skips from <see cref="CreateStoreAsync"/>.
/// </summary>
public abstract class EventStoreContract : OwnsResources
{
    protected abstract Task<IEventStore> CreateStoreAsync(UpcasterChain? upcasters = null);

    private static string NewId() => "agg-" + Guid.NewGuid().ToString("N")[..12];

    private static ThingHappened[] Things(int count, string name = "t") =>
        Enumerable.Range(1, count).Select(i => new ThingHappened(name, i)).ToArray();

    [Fact]
    public async Task Append_to_new_stream_numbers_events_from_one()
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        var stored = await store.AppendAsync(id, "Counter", Things(3), 0);
        Assert.Equal([1, 2, 3], stored.Select(e => e.Sequence));
        Assert.All(stored, e => Assert.True(e.GlobalPosition > 0));
        Assert.Equal(3, stored.Select(e => e.EventId).Distinct().Count());
        Assert.All(stored, e => Assert.InRange(e.EventId.Length, 1, 64));
        Assert.Equal(3, await store.LatestVersionAsync(id));
    }

    [Fact]
    public async Task Append_after_expected_version_continues_the_sequence()
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        await store.AppendAsync(id, "Counter", Things(2), 0);
        var stored = await store.AppendAsync(id, "Counter", Things(2), 2);
        Assert.Equal([3, 4], stored.Select(e => e.Sequence));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    public async Task Append_with_stale_expected_version_throws_ConcurrencyException(int expected)
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        await store.AppendAsync(id, "Counter", Things(2), 0);
        var error = await Assert.ThrowsAsync<ConcurrencyException>(() => store.AppendAsync(id, "Counter", Things(1), expected));
        Assert.Equal(id, error.AggregateId);
        Assert.Equal(expected, error.ExpectedVersion);
        Assert.Equal(2, error.ActualVersion);
        Assert.Equal(2, await store.LatestVersionAsync(id));
    }

    [Fact]
    public async Task Append_of_no_events_writes_nothing()
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        Assert.Empty(await store.AppendAsync(id, "Counter", [], 0));
        Assert.Equal(0, await store.LatestVersionAsync(id));
    }

    [Fact]
    public async Task Append_rejects_bad_arguments()
    {
        var store = await CreateStoreAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendAsync("", "Counter", Things(1), 0));
        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendAsync(new string('x', 65), "Counter", Things(1), 0));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.AppendAsync(NewId(), "Counter", Things(1), -1));
    }

    [Fact]
    public async Task Sixteen_concurrent_appends_with_one_expected_version_give_one_winner()
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        await store.AppendAsync(id, "Counter", Things(1), 0);
        using var start = new ManualResetEventSlim();
        var attempts = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            start.Wait();
            try
            {
                await store.AppendAsync(id, "Counter", Things(2, $"writer-{i}"), 1);
                return (Exception?)null;
            }
            catch (Exception e)
            {
                return e;
            }
        })).ToArray();
        start.Set();
        var outcomes = await Task.WhenAll(attempts);

        Assert.Single(outcomes, o => o is null);
        Assert.All(outcomes.Where(o => o is not null), o =>
        {
            var concurrency = Assert.IsType<ConcurrencyException>(o);
            Assert.Equal(1, concurrency.ExpectedVersion);
            Assert.Equal(id, concurrency.AggregateId);
        });
        var events = await store.LoadAsync(id);
        Assert.Equal([1, 2, 3], events.Select(e => e.Sequence));
        Assert.Single(events.Skip(1).Select(e => JsonDocument.Parse(e.Payload).RootElement.GetProperty("thing_name").GetString()).Distinct());
    }

    [Fact]
    public async Task Ten_writers_on_distinct_streams_all_get_stored()
    {
        var store = await CreateStoreAsync();
        var ids = Enumerable.Range(0, 10).Select(_ => NewId()).ToArray();
        await Task.WhenAll(ids.Select(id => Task.Run(async () =>
        {
            for (var version = 0; version < 100; version++)
                await store.AppendAsync(id, "Counter", Things(1), version);
        })));
        foreach (var id in ids)
        {
            var events = await store.LoadAsync(id);
            Assert.Equal(Enumerable.Range(1, 100), events.Select(e => e.Sequence));
        }
    }

    [Fact]
    public async Task Load_returns_events_in_sequence_order_after_the_given_sequence()
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        await store.AppendAsync(id, "Counter", Things(3), 0);
        await store.AppendAsync(NewId(), "Counter", Things(2), 0);
        await store.AppendAsync(id, "Counter", Things(2), 3);
        Assert.Equal([1, 2, 3, 4, 5], (await store.LoadAsync(id)).Select(e => e.Sequence));
        Assert.Equal([4, 5], (await store.LoadAsync(id, 3)).Select(e => e.Sequence));
        Assert.Empty(await store.LoadAsync(id, 5));
        Assert.Empty(await store.LoadAsync(NewId()));
    }

    [Fact]
    public async Task Latest_version_of_unknown_stream_is_zero()
    {
        var store = await CreateStoreAsync();
        Assert.Equal(0, await store.LatestVersionAsync(NewId()));
    }

    [Fact]
    public async Task Stored_envelope_carries_type_snake_case_payload_metadata_tenant_and_utc_time()
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        var context = new EventContext("tenant-a", "corr-1", "cause-1", new Dictionary<string, string> { ["user"] = "ann" });
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);
        await store.AppendAsync(id, "Counter", [new ThingHappened("widget", 7), new ThingRenamed("gizmo")], 0, context);

        var loaded = await store.LoadAsync(id);
        var first = loaded[0];
        Assert.Equal(id, first.AggregateId);
        Assert.Equal("Counter", first.AggregateType);
        Assert.Equal("ThingHappened", first.EventType);
        Assert.Equal("thing_renamed_v2", loaded[1].EventType);
        using var payload = JsonDocument.Parse(first.Payload);
        Assert.Equal("widget", payload.RootElement.GetProperty("thing_name").GetString());
        Assert.Equal(7, payload.RootElement.GetProperty("how_many").GetInt32());
        Assert.Equal("tenant-a", first.TenantId);
        Assert.Equal("corr-1", first.Metadata[EventMetadata.CorrelationId]);
        Assert.Equal("cause-1", first.Metadata[EventMetadata.CausationId]);
        Assert.Equal("tenant-a", first.Metadata[EventMetadata.TenantId]);
        Assert.Equal("ann", first.Metadata["user"]);
        Assert.Equal(1, first.SchemaVersion);
        Assert.Equal(TimeSpan.Zero, first.OccurredAt.Offset);
        Assert.InRange(first.OccurredAt, before, DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.True(loaded[1].GlobalPosition > first.GlobalPosition);
    }

    [Fact]
    public async Task Append_does_not_mutate_the_callers_events_or_list()
    {
        var store = await CreateStoreAsync();
        var events = new List<DomainEvent> { new ThingHappened("a", 1), new ThingHappened("b", 2) };
        var snapshot = events.ToArray();
        await store.AppendAsync(NewId(), "Counter", events, 0);
        Assert.Equal(snapshot, events);
        Assert.Equal(new ThingHappened("a", 1), events[0]);
    }

    [Fact]
    public async Task Read_all_returns_every_event_once_in_global_order_in_batches()
    {
        var store = await CreateStoreAsync();
        var start = await LastCheckpointAsync(store);
        var a = NewId();
        var b = NewId();
        await store.AppendAsync(a, "Counter", Things(2), 0);
        await store.AppendAsync(b, "Counter", Things(3), 0);
        await store.AppendAsync(a, "Counter", Things(1), 2);

        var seen = await Settled.ReadAllAsync(store, start, expected: 6, batchSize: 2);

        Assert.Equal(6, seen.Count);
        Assert.Equal(seen.Select(e => e.Checkpoint).Order(), seen.Select(e => e.Checkpoint));
        Assert.Equal(6, seen.Select(e => e.EventId).Distinct().Count());
        Assert.Equal([(a, 1), (a, 2), (b, 1), (b, 2), (b, 3), (a, 3)], seen.Select(e => (e.AggregateId, e.Sequence)));
    }

    [Fact]
    public async Task Lag_counts_the_events_after_a_checkpoint_up_to_a_cap_and_dates_the_oldest()
    {
        var store = await CreateStoreAsync();
        Assert.Equal(EventLag.None, await store.LagAsync(GlobalCheckpoint.Start, 10));
        var first = await store.AppendAsync(NewId(), "Counter", Things(3), 0);
        await store.AppendAsync(NewId(), "Counter", Things(2), 0);
        var all = await Settled.ReadAllAsync(store, GlobalCheckpoint.Start, expected: 5, batchSize: 10);

        var lag = await store.LagAsync(GlobalCheckpoint.Start, 10);
        Assert.Equal(5, lag.Events);
        Assert.InRange(lag.OldestAt!.Value - first[0].OccurredAt, TimeSpan.FromMilliseconds(-1), TimeSpan.FromMilliseconds(1));
        Assert.Equal(3, (await store.LagAsync(GlobalCheckpoint.Start, 3)).Events);
        var afterTwo = await store.LagAsync(all[1].Checkpoint, 10);
        Assert.Equal(3, afterTwo.Events);
        Assert.InRange(afterTwo.OldestAt!.Value - all[2].OccurredAt, TimeSpan.FromMilliseconds(-1), TimeSpan.FromMilliseconds(1));
        Assert.Equal(EventLag.None, await store.LagAsync(all[^1].Checkpoint, 10));
        Assert.Equal(TimeSpan.Zero, EventLag.None.Age(DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task Upcasters_run_on_load_and_read_all()
    {
        var store = await CreateStoreAsync(new UpcasterChain([new RenameUpcaster()]));
        var start = await LastCheckpointAsync(store);
        var id = NewId();
        await store.AppendAsync(id, "Counter", [new ThingHappened("old", 1)], 0);

        var loaded = Assert.Single(await store.LoadAsync(id));
        Assert.Equal("thing_renamed_v2", loaded.EventType);
        Assert.Equal(2, loaded.SchemaVersion);
        var read = Assert.Single(await Settled.ReadAllAsync(store, start, expected: 1));
        Assert.Equal("thing_renamed_v2", read.EventType);
        Assert.Equal(loaded.Payload, read.Payload);
    }

    [Fact]
    public async Task No_upcasters_read_is_the_identity()
    {
        var store = await CreateStoreAsync();
        var start = await LastCheckpointAsync(store);
        var id = NewId();
        var stored = await store.AppendAsync(id, "Counter", [new ThingHappened("same", 3)], 0);
        var loaded = Assert.Single(await store.LoadAsync(id));
        var read = Assert.Single(await Settled.ReadAllAsync(store, start, expected: 1));
        Assert.Equal(stored[0].EventType, loaded.EventType);
        Assert.Equal(stored[0].SchemaVersion, loaded.SchemaVersion);
        Assert.Equal(JsonDocument.Parse(stored[0].Payload).RootElement.GetRawText(), JsonDocument.Parse(loaded.Payload).RootElement.GetRawText());
        Assert.Equal(loaded.EventId, read.EventId);
        Assert.Equal(loaded.Payload, read.Payload);
    }

    /// <summary>The checkpoint after everything already in the store (durable providers may share a database).</summary>
    protected static async Task<GlobalCheckpoint> LastCheckpointAsync(IEventStore store)
    {
        var checkpoint = GlobalCheckpoint.Start;
        while (true)
        {
            var batch = await store.ReadAllAsync(checkpoint, 1000);
            if (batch.Count == 0) return checkpoint;
            checkpoint = batch[^1].Checkpoint;
        }
    }

    /// <summary>Turns v1 ThingHappened into v2 thing_renamed_v2 { new_name }.</summary>
    private sealed class RenameUpcaster : IEventUpcaster
    {
        public bool CanUpcast(StoredEventEnvelope envelope) => envelope.EventType == "ThingHappened" && envelope.SchemaVersion == 1;

        public StoredEventEnvelope Upcast(StoredEventEnvelope envelope)
        {
            using var old = JsonDocument.Parse(envelope.Payload);
            var name = old.RootElement.GetProperty("thing_name").GetString();
            return envelope with
            {
                EventType = "thing_renamed_v2",
                SchemaVersion = 2,
                Payload = JsonSerializer.Serialize(new { new_name = name }),
            };
        }
    }
}
