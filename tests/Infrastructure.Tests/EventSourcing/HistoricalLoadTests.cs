using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Snapshots;
using OrdersEs.Infrastructure.Tests.EventStore;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.EventSourcing;

/// <summary><see cref="EventSourcedRepository{T}.LoadAtAsync"/>: an aggregate as it was at a version or a time, replayed from its events.</summary>
public class HistoricalLoadTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _clock = new(Start);
    private readonly InMemorySnapshotStore _snapshots = new();
    private readonly InMemoryEventStore _store;

    public HistoricalLoadTests() => _store = new InMemoryEventStore(TestKernel.Envelopes(_clock));

    private EventSourcedRepository<Counter> Repository(IEventStore? store = null, int interval = 100) =>
        new(store ?? _store, TestKernel.Serializer(), () => new Counter(), _snapshots, new RepositoryOptions { SnapshotInterval = interval });

    /// <summary>Five events, one a minute from <see cref="Start"/>: versions 1-5 at 10:00-10:04, counting 1, 2, 3, 4, 5.</summary>
    private async Task<EventSourcedRepository<Counter>> FiveEventsAsync(string id, int interval = 100, string? tenant = "acme")
    {
        var repository = Repository(interval: interval);
        var counter = Counter.Start(id);
        for (var i = 1; i <= 5; i++)
        {
            counter.Count("thing", i);
            await repository.SaveAsync(counter, new EventContext(tenant));
            _clock.Advance(TimeSpan.FromMinutes(1));
        }
        return repository;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 6)]
    [InlineData(5, 15)]
    public async Task At_a_version_replays_the_events_up_to_it(int version, int total)
    {
        var repository = await FiveEventsAsync("h-1");

        var past = await repository.LoadAtAsync("h-1", HistoryPoint.AtVersion(version));

        Assert.NotNull(past);
        Assert.Equal((version, total, "h-1"), (past.Aggregate.Version, past.Aggregate.Total, past.Aggregate.Id));
        Assert.Equal(Start, past.FirstOccurredAt);
        Assert.Equal(Start.AddMinutes(version - 1), past.LastOccurredAt);
        Assert.Equal("acme", past.TenantId);
        Assert.Empty(past.Aggregate.PendingEvents);
    }

    [Fact]
    public async Task A_version_past_the_end_stops_at_the_last_event()
    {
        var repository = await FiveEventsAsync("h-2");

        var past = await repository.LoadAtAsync("h-2", HistoryPoint.AtVersion(99));

        Assert.Equal((5, 15), (past!.Aggregate.Version, past.Aggregate.Total));
        Assert.Equal(Start.AddMinutes(4), past.LastOccurredAt);
    }

    [Theory]
    [InlineData(0, 1)]      // exactly at the first event: it is included
    [InlineData(90, 2)]     // between the second (10:01) and the third (10:02)
    [InlineData(120, 3)]    // exactly at the third
    [InlineData(86_400, 5)] // long after the last
    public async Task As_of_a_time_replays_the_events_that_occurred_at_or_before_it(int secondsAfterStart, int version)
    {
        var repository = await FiveEventsAsync("h-3");

        var past = await repository.LoadAtAsync("h-3", HistoryPoint.AsOf(Start.AddSeconds(secondsAfterStart)));

        Assert.Equal(version, past!.Aggregate.Version);
        Assert.Equal(Start.AddMinutes(version - 1), past.LastOccurredAt);
    }

    [Fact]
    public async Task As_of_a_time_compares_instants_whatever_the_offset()
    {
        var repository = await FiveEventsAsync("h-4");

        // 12:01:30 at +02:00 is 10:01:30 UTC: two events.
        var past = await repository.LoadAtAsync("h-4", HistoryPoint.AsOf(new DateTimeOffset(2026, 12, 7, 12, 1, 30, TimeSpan.FromHours(2))));

        Assert.Equal(2, past!.Aggregate.Version);
    }

    [Fact]
    public async Task Before_the_first_event_or_of_an_unknown_stream_is_null()
    {
        var repository = await FiveEventsAsync("h-5");

        Assert.Null(await repository.LoadAtAsync("h-5", HistoryPoint.AsOf(Start.AddTicks(-1))));
        Assert.Null(await repository.LoadAtAsync("missing", HistoryPoint.AtVersion(1)));
        Assert.Null(await repository.LoadAtAsync("missing", HistoryPoint.AsOf(Start.AddDays(1))));
    }

    [Fact]
    public void A_version_below_1_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => HistoryPoint.AtVersion(0));
    }

    [Fact]
    public async Task A_snapshot_after_the_point_is_never_used()
    {
        var repository = await FiveEventsAsync("h-6", interval: 4);
        Assert.Equal(4, (await _snapshots.LoadAsync("h-6"))!.Sequence);

        var counting = new LoadRecordingEventStore(_store);
        var past = await Repository(counting, interval: 4).LoadAtAsync("h-6", HistoryPoint.AtVersion(2));

        Assert.Equal((2, 3), (past!.Aggregate.Version, past.Aggregate.Total));
        Assert.Equal([0], counting.LoadsAfter); // one read, from the first event
        Assert.Equal(15, (await repository.LoadAsync("h-6"))!.Total);
    }

    [Fact]
    public async Task The_tenant_is_the_streams_and_a_stream_without_one_has_none()
    {
        var repository = await FiveEventsAsync("h-7", tenant: null);

        var past = await repository.LoadAtAsync("h-7", HistoryPoint.AtVersion(1));

        Assert.Null(past!.TenantId);
        Assert.Equal((await repository.LoadWithTenantAsync("h-7"))!.TenantId, past.TenantId);
    }

    [Fact]
    public async Task A_stream_of_another_aggregate_type_is_null()
    {
        await _store.AppendAsync("h-8", "Gauge", [new ThingHappened("tick", 1)], 0);

        Assert.Null(await Repository().LoadAtAsync("h-8", HistoryPoint.AtVersion(1)));
    }

    [Fact]
    public async Task Upcasters_apply_as_on_every_read()
    {
        var upcasting = new InMemoryEventStore(TestKernel.Envelopes(_clock), new UpcasterChain([new TickToRenameUpcaster()]));
        await upcasting.AppendAsync("h-9", nameof(Counter), [new ThingHappened("first", 1), new ThingHappened("second", 1)], 0);

        var past = await Repository(upcasting).LoadAtAsync("h-9", HistoryPoint.AtVersion(1));

        Assert.Equal(("first", 0, 1), (past!.Aggregate.Name, past.Aggregate.Total, past.Aggregate.Version));
    }

    /// <summary>Reads v1 <c>ThingHappened</c> as <c>thing_renamed_v2 { new_name }</c>.</summary>
    private sealed class TickToRenameUpcaster : IEventUpcaster
    {
        public bool CanUpcast(StoredEventEnvelope envelope) => envelope.EventType == nameof(ThingHappened) && envelope.SchemaVersion == 1;

        public StoredEventEnvelope Upcast(StoredEventEnvelope envelope)
        {
            using var old = JsonDocument.Parse(envelope.Payload);
            var name = old.RootElement.GetProperty("thing_name").GetString();
            return envelope with { EventType = "thing_renamed_v2", SchemaVersion = 2, Payload = JsonSerializer.Serialize(new { new_name = name }) };
        }
    }
}
