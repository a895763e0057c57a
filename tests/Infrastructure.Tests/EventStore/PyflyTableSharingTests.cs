using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Snapshots;
using OrdersEs.Infrastructure.Snapshots.EfCore;
using OrdersEs.Tests.Pyfly;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.EventStore;

/// <summary>
/// One <c>pyfly_event_store</c> shared with pyfly v26.07.01 (README, "Sharing the tables with pyfly"): rows pyfly
/// writes (<see cref="PyflyTable"/>: its SQL and JSON) read as our events, and ours read through pyfly's
/// <c>from_json</c>; both formats row by row; the append race; snapshots.
/// </summary>
public abstract class PyflyTableSharingTests : OwnsResources
{
    protected abstract Task<TestDatabase> CreateDatabaseAsync();

    protected abstract bool IsSqlite { get; }

    private static readonly DateTimeOffset PyflyTime = new DateTimeOffset(2026, 7, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(1_234_560);

    private async Task<(TestDatabase Test, EfCoreEventStore Store, PyflyTable Pyfly)> SetUpAsync(UpcasterChain? upcasters = null)
    {
        var test = Own(await CreateDatabaseAsync());
        var store = new EfCoreEventStore(test.Database, TestKernel.Envelopes(), upcasters);
        await store.LatestVersionAsync("none"); // creates the schema, as the service does on start
        return (test, store, new PyflyTable(async () => await test.Database.DataSource.OpenConnectionAsync(), IsSqlite));
    }

    private static PyflyEvent Thing(string name, int howMany, DateTimeOffset? at = null, JsonObject? metadata = null, string? tenant = null) =>
        new("ThingHappened", new JsonObject { ["thing_name"] = name, ["how_many"] = howMany }, at ?? PyflyTime, metadata, tenant);

    private static async Task ExecuteAsync(TestDatabase test, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await test.Database.DataSource.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) PyflyTable.Add(command, name, value);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<string> PayloadColumnAsync(TestDatabase test, string eventId)
    {
        await using var connection = await test.Database.DataSource.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT payload FROM pyfly_event_store WHERE event_id = @id";
        PyflyTable.Add(command, "id", eventId);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    // ---- pyfly writes, we read

    [Fact]
    public async Task An_event_pyfly_appended_loads_with_its_payload_metadata_time_tenant_and_version()
    {
        var (_, store, pyfly) = await SetUpAsync();
        var written = Assert.Single(await pyfly.AppendAsync("c-1", "Counter",
            [Thing("Zoë's", 4, metadata: new JsonObject { ["correlation_id"] = "py-1", ["attempt"] = 2 }, tenant: "t-1")], 0));

        var loaded = Assert.Single(await store.LoadAsync("c-1"));
        Assert.Equal((written.EventId, "c-1", "Counter", 1, "ThingHappened"), (loaded.EventId, loaded.AggregateId, loaded.AggregateType, loaded.Sequence, loaded.EventType));
        using var payload = JsonDocument.Parse(loaded.Payload);
        Assert.Equal("Zoë's", payload.RootElement.GetProperty("thing_name").GetString());
        Assert.False(payload.RootElement.TryGetProperty("event_id", out _)); // the event payload, not the envelope
        Assert.Equal("py-1", loaded.Metadata[EventMetadata.CorrelationId]);
        Assert.Equal("2", loaded.Metadata["attempt"]);
        Assert.Equal(PyflyTime, loaded.OccurredAt);
        Assert.Equal(TimeSpan.Zero, loaded.OccurredAt.Offset);
        Assert.Equal("t-1", loaded.TenantId);
        Assert.Equal(1, loaded.SchemaVersion);
        Assert.True(loaded.GlobalPosition > 0);

        var counter = await new EventSourcedRepository<Counter>(store, TestKernel.Serializer(), () => new Counter()).LoadAsync("c-1");
        Assert.Equal((4, 1), (counter!.Total, counter.Version));
    }

    [Fact]
    public async Task Occurred_at_of_a_pyfly_event_in_another_offset_is_the_envelope_s_instant_not_the_naive_column()
    {
        var (_, store, pyfly) = await SetUpAsync();
        var local = new DateTimeOffset(2026, 7, 1, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(10); // 1 µs
        await pyfly.AppendAsync("c-2", "Counter", [Thing("x", 1, at: local), Thing("y", 1, at: PyflyTime.AddSeconds(1))], 0);

        var loaded = await store.LoadAsync("c-2");
        Assert.Equal(local.ToUniversalTime(), loaded[0].OccurredAt);
        Assert.Equal(PyflyTime.AddSeconds(1), loaded[1].OccurredAt); // no fraction in the envelope: whole seconds
    }

    [Fact]
    public async Task Pyfly_and_our_events_share_one_global_order_and_one_stream()
    {
        var (_, store, pyfly) = await SetUpAsync();
        var ours = await store.AppendAsync("ours", "Counter", [new ThingHappened("a", 1)], 0);
        await pyfly.AppendAsync("both", "Counter", [Thing("b", 2)], 0);
        await store.AppendAsync("both", "Counter", [new ThingHappened("c", 3)], 1);
        await pyfly.AppendAsync("both", "Counter", [Thing("d", 4)], 2);

        var all = await Settled.ReadAllAsync(store, GlobalCheckpoint.Start, expected: 4);
        Assert.Equal(["ours", "both", "both", "both"], all.Select(e => e.AggregateId));
        Assert.Equal(all.Select(e => e.Checkpoint).Order(), all.Select(e => e.Checkpoint));
        var counter = await new EventSourcedRepository<Counter>(store, TestKernel.Serializer(), () => new Counter()).LoadAsync("both");
        Assert.Equal((9, 3), (counter!.Total, counter.Version));
        Assert.Equal([1, 2, 3], (await pyfly.RepositoryLoadAsync("both", "Counter"))!.Select(e => e.Sequence));
        Assert.Equal(ours[0].EventId, (await pyfly.StreamAllAsync()).First(e => e.AggregateId == "ours").EventId);
    }

    // ---- we write, pyfly reads

    [Fact]
    public async Task Our_rows_rebuild_through_pyfly_from_json_with_payload_metadata_sequence_version_and_tenant()
    {
        var (_, store, pyfly) = await SetUpAsync();
        var context = new EventContext("t-9", "corr-1", "cause-1", new Dictionary<string, string> { ["caller"] = "ops" });
        var stored = await store.AppendAsync("c-3", "Counter", [new ThingHappened("one", 1), new ThingHappened("two", 2)], 0, context);

        var envelopes = (await pyfly.RepositoryLoadAsync("c-3", "Counter"))!;
        Assert.Equal(2, envelopes.Count);
        for (var i = 0; i < 2; i++)
        {
            var (ours, theirs) = (stored[i], envelopes[i]);
            Assert.Equal((ours.EventId, "c-3", "Counter", i + 1, "ThingHappened", 1, "t-9"),
                (theirs.EventId, theirs.AggregateId, theirs.AggregateType, theirs.Sequence, theirs.EventType, theirs.Version, theirs.TenantId));
            Assert.Equal(ours.Payload, theirs.Payload.ToJsonString());
            Assert.Equal(i + 1, theirs.Payload["how_many"]!.GetValue<int>());
            Assert.Equal(["corr-1", "cause-1", "t-9", "ops"],
                new[] { "correlation_id", "causation_id", "tenant_id", "caller" }.Select(k => theirs.Metadata[k]!.GetValue<string>()));
            Assert.True(theirs.OccurredAtIsAware);
            Assert.Equal(ours.OccurredAt, theirs.OccurredAt);
        }
        Assert.Equal(stored.Select(e => e.EventId), (await pyfly.StreamAllAsync()).Select(e => e.EventId));
    }

    [Fact]
    public async Task Our_payload_column_is_pyfly_s_to_json_shape_key_by_key()
    {
        var test = Own(await CreateDatabaseAsync());
        var time = new FixedTime(new DateTimeOffset(2026, 5, 6, 9, 30, 0, TimeSpan.FromHours(2)).AddTicks(1_234_567));
        var store = new EfCoreEventStore(test.Database, TestKernel.Envelopes(time));
        var stored = await store.AppendAsync("c-4", "Counter", [new ThingHappened("w", 3)], 0);

        using var column = JsonDocument.Parse(await PayloadColumnAsync(test, stored[0].EventId));
        var root = column.RootElement;
        Assert.Equal(["event_id", "aggregate_id", "aggregate_type", "sequence", "event_type", "payload", "metadata", "occurred_at", "version", "tenant_id"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Number, root.GetProperty("sequence").ValueKind);
        Assert.Equal(JsonValueKind.Number, root.GetProperty("version").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("tenant_id").ValueKind);
        Assert.Equal(JsonValueKind.Object, root.GetProperty("metadata").ValueKind);
        Assert.Equal("""{"thing_name":"w","how_many":3}""", root.GetProperty("payload").GetRawText());
        // Python's isoformat of an aware UTC datetime: microseconds (the tick below them is cut), then +00:00.
        Assert.Equal("2026-05-06T07:30:00.123456+00:00", root.GetProperty("occurred_at").GetString());
        Assert.Equal(stored[0].OccurredAt, (await store.LoadAsync("c-4"))[0].OccurredAt);
    }

    [Fact]
    public async Task Our_occurred_at_without_microseconds_has_no_fraction_as_python_writes_it()
    {
        var test = Own(await CreateDatabaseAsync());
        var store = new EfCoreEventStore(test.Database, TestKernel.Envelopes(new FixedTime(new DateTimeOffset(2026, 5, 6, 7, 30, 0, TimeSpan.Zero))));
        var stored = await store.AppendAsync("c-5", "Counter", [new ThingHappened("w", 3)], 0);
        using var column = JsonDocument.Parse(await PayloadColumnAsync(test, stored[0].EventId));
        Assert.Equal("2026-05-06T07:30:00+00:00", column.RootElement.GetProperty("occurred_at").GetString());
    }

    // ---- both formats, row by row

    [Fact]
    public async Task A_bare_payload_row_written_by_hand_still_reads_beside_envelope_rows_of_the_same_stream()
    {
        var (test, store, pyfly) = await SetUpAsync();
        await ExecuteAsync(test, """
            INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
            VALUES ('hand-1', 'mixed', 'Counter', 1, 'ThingHappened', '{"thing_name": "by hand", "how_many": 4}', '{"correlation_id": "h-1"}', '2026-03-04 05:06:07.123456', 1, NULL)
            """);
        await pyfly.AppendAsync("mixed", "Counter", [Thing("pyfly", 5)], 1);
        await store.AppendAsync("mixed", "Counter", [new ThingHappened("ours", 6)], 2);

        var loaded = await store.LoadAsync("mixed");
        Assert.Equal(["by hand", "pyfly", "ours"], loaded.Select(e => JsonDocument.Parse(e.Payload).RootElement.GetProperty("thing_name").GetString()));
        Assert.Equal("h-1", loaded[0].Metadata[EventMetadata.CorrelationId]);
        Assert.Equal(new DateTimeOffset(2026, 3, 4, 5, 6, 7, 123, 456, TimeSpan.Zero), loaded[0].OccurredAt);
        var counter = await new EventSourcedRepository<Counter>(store, TestKernel.Serializer(), () => new Counter()).LoadAsync("mixed");
        Assert.Equal(15, counter!.Total);
    }

    [Fact]
    public async Task A_bare_payload_with_envelope_like_keys_but_another_event_id_is_read_as_the_payload()
    {
        var (test, store, _) = await SetUpAsync();
        const string payload = """{"thing_name": "look-alike", "how_many": 1, "event_id": "someone-else", "aggregate_id": "x", "aggregate_type": "Counter", "sequence": 1, "event_type": "ThingHappened", "payload": {}, "metadata": {}, "occurred_at": "2026-01-01T00:00:00+00:00", "version": 1}""";
        await ExecuteAsync(test, """
            INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
            VALUES ('look-1', 'look', 'Counter', 1, 'ThingHappened', @payload, '{}', '2026-03-04 05:06:07', 1, NULL)
            """, ("payload", payload));

        var loaded = Assert.Single(await store.LoadAsync("look"));
        Assert.Equal(payload, loaded.Payload);
        var counter = await new EventSourcedRepository<Counter>(store, TestKernel.Serializer(), () => new Counter()).LoadAsync("look");
        Assert.Equal(1, counter!.Total);
    }

    [Fact]
    public async Task Upcasters_see_the_event_payload_of_envelope_rows_and_bare_rows_alike()
    {
        var seen = new List<string>();
        var (test, store, pyfly) = await SetUpAsync(new UpcasterChain([new RecordingUpcaster(seen)]));
        await ExecuteAsync(test, """
            INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
            VALUES ('bare-1', 'up', 'Counter', 1, 'ThingHappened', '{"thing_name": "bare", "how_many": 1}', '{}', '2026-03-04 05:06:07', 1, NULL)
            """);
        await pyfly.AppendAsync("up", "Counter", [Thing("pyfly", 1)], 1);
        await store.AppendAsync("up", "Counter", [new ThingHappened("ours", 1)], 2);

        await store.LoadAsync("up");
        Assert.Equal(["bare", "pyfly", "ours"], seen);
        seen.Clear();
        await Settled.ReadAllAsync(store, GlobalCheckpoint.Start, expected: 3);
        Assert.Equal(["bare", "pyfly", "ours"], seen.Distinct());
    }

    [Fact]
    public async Task An_envelope_row_disagreeing_with_its_sequence_column_is_an_error_naming_event_and_field()
    {
        var (test, store, _) = await SetUpAsync();
        await ExecuteAsync(test, """
            INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
            VALUES ('bad-1', 'bad', 'Counter', 1, 'ThingHappened', @payload, '{}', '2026-03-04 05:06:07', 1, NULL)
            """, ("payload", """{"event_id": "bad-1", "aggregate_id": "bad", "aggregate_type": "Counter", "sequence": 7, "event_type": "ThingHappened", "payload": {"thing_name": "x", "how_many": 1}, "metadata": {}, "occurred_at": "2026-03-04T05:06:07+00:00", "version": 1, "tenant_id": null}"""));

        var error = await Assert.ThrowsAsync<EventDecodingException>(() => store.LoadAsync("bad"));
        Assert.Equal(("bad-1", "envelope.sequence"), (error.EventId, error.Member));
        Assert.Contains("bad-1", error.Message);
        Assert.Contains("ThingHappened", error.Message);
    }

    [Fact]
    public async Task An_envelope_row_with_an_unreadable_occurred_at_is_an_error_naming_the_field()
    {
        var (test, store, _) = await SetUpAsync();
        await ExecuteAsync(test, """
            INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
            VALUES ('bad-2', 'bad', 'Counter', 1, 'ThingHappened', @payload, '{}', '2026-03-04 05:06:07', 1, NULL)
            """, ("payload", """{"event_id": "bad-2", "aggregate_id": "bad", "aggregate_type": "Counter", "sequence": 1, "event_type": "ThingHappened", "payload": {"thing_name": "x", "how_many": 1}, "metadata": {}, "occurred_at": "yesterday", "version": 1}"""));

        var error = await Assert.ThrowsAsync<EventDecodingException>(() => Settled.ReadAllAsync(store, GlobalCheckpoint.Start, expected: 1));
        Assert.Equal("envelope.occurred_at", error.Member);
    }

    // ---- strict decoding of what pyfly wrote

    [Fact]
    public async Task A_pyfly_event_lacking_a_required_member_fails_to_load_naming_event_type_and_member()
    {
        var (_, store, pyfly) = await SetUpAsync();
        var written = await pyfly.AppendAsync("c-6", "Counter", [new PyflyEvent("ThingHappened", new JsonObject { ["thing_name"] = "x" }, PyflyTime)], 0);
        var repository = new EventSourcedRepository<Counter>(store, TestKernel.Serializer(), () => new Counter());

        var error = await Assert.ThrowsAsync<EventDecodingException>(() => repository.LoadAsync("c-6"));
        Assert.Equal((written[0].EventId, "ThingHappened", "how_many"), (error.EventId, error.EventType, error.Member));
        Assert.Contains("is missing", error.Message);
    }

    [Fact]
    public async Task A_pyfly_event_with_a_member_of_the_wrong_type_fails_to_load_naming_the_member()
    {
        var (_, store, pyfly) = await SetUpAsync();
        await pyfly.AppendAsync("c-7", "Counter", [Thing("x", 1), new PyflyEvent("ThingHappened", new JsonObject { ["thing_name"] = "x", ["how_many"] = "4" }, PyflyTime)], 0);
        var repository = new EventSourcedRepository<Counter>(store, TestKernel.Serializer(), () => new Counter());

        var error = await Assert.ThrowsAsync<EventDecodingException>(() => repository.LoadAsync("c-7"));
        Assert.Equal("how_many", error.Member);
        Assert.Contains("is a string, expected a number", error.Message);
    }

    // ---- pyfly's MAX(sequence) check racing our append

    [Fact]
    public async Task When_our_append_commits_between_pyfly_s_check_and_insert_pyfly_gets_its_ConcurrencyError()
    {
        var (_, store, pyfly) = await SetUpAsync();
        await using var theirs = await pyfly.BeginAppendAsync("race-1", "Counter", [Thing("theirs", 1)], 0); // MAX(sequence) = 0: passes

        var ours = await store.AppendAsync("race-1", "Counter", [new ThingHappened("ours", 1)], 0);
        await Assert.ThrowsAsync<PyflyConcurrencyError>(theirs.InsertAsync);

        Assert.Equal(ours[0].EventId, Assert.Single(await store.LoadAsync("race-1")).EventId);
        Assert.Equal(ours[0].EventId, Assert.Single(await pyfly.LoadAsync("race-1")).EventId);
    }

    [Fact]
    public async Task When_pyfly_inserted_first_our_racing_append_gets_ConcurrencyException_once_it_commits()
    {
        var (_, store, pyfly) = await SetUpAsync();
        var theirs = await pyfly.BeginAppendAsync("race-2", "Counter", [Thing("theirs", 1)], 0);
        await theirs.InsertAsync(); // not committed yet: our append waits on its row (PostgreSQL) or its write lock (SQLite)

        // On a thread of its own: SQLite's busy wait blocks the calling thread.
        var ours = Task.Run(() => store.AppendAsync("race-2", "Counter", [new ThingHappened("ours", 1)], 0));
        await Task.Delay(300);
        await theirs.CommitAsync();
        await theirs.DisposeAsync();

        var error = await Assert.ThrowsAsync<ConcurrencyException>(() => ours);
        Assert.Equal((0, 1), (error.ExpectedVersion, error.ActualVersion));
        Assert.Equal(theirs.Envelopes[0].EventId, Assert.Single(await store.LoadAsync("race-2")).EventId);
    }

    [Fact]
    public async Task Pyfly_s_check_refuses_a_stale_expected_version_after_our_append()
    {
        var (_, store, pyfly) = await SetUpAsync();
        await store.AppendAsync("race-3", "Counter", [new ThingHappened("ours", 1)], 0);
        var error = await Assert.ThrowsAsync<PyflyConcurrencyError>(() => pyfly.AppendAsync("race-3", "Counter", [Thing("theirs", 1)], 0));
        Assert.Contains("found 1", error.Message);
    }

    // ---- snapshots: pyfly's newer-only upsert on the same table

    [Fact]
    public async Task Pyfly_s_snapshot_upsert_never_replaces_a_newer_snapshot_of_ours_and_replaces_an_older_one()
    {
        var (test, _, _) = await SetUpAsync();
        var snapshots = new EfCoreSnapshotStore(test.Database);
        await snapshots.SaveAsync(new Snapshot("s-1", "Counter", 5, """{"total":5}""", DateTimeOffset.UtcNow, 1));

        await PyflySnapshotSaveAsync(test, "s-1", "Counter", 3, """{"total": 3}""");
        Assert.Equal(5, (await snapshots.LoadAsync("s-1"))!.Sequence);
        await PyflySnapshotSaveAsync(test, "s-1", "Counter", 8, """{"total": 8}""");
        var loaded = (await snapshots.LoadAsync("s-1"))!;
        Assert.Equal((8, """{"total": 8}""", 1), (loaded.Sequence, loaded.Payload, loaded.SchemaVersion));
    }

    [Fact]
    public async Task A_pyfly_snapshot_that_lacks_a_member_of_our_state_is_ignored_and_the_stream_replayed()
    {
        var (test, store, pyfly) = await SetUpAsync();
        await pyfly.AppendAsync("s-2", "Counter", [Thing("a", 2), Thing("b", 3)], 0);
        await PyflySnapshotSaveAsync(test, "s-2", "Counter", 2, """{"amount": 99}""");

        var repository = new EventSourcedRepository<Counter>(store, TestKernel.Serializer(), () => new Counter(), new EfCoreSnapshotStore(test.Database));
        var counter = await repository.LoadAsync("s-2");
        Assert.Equal((5, 2), (counter!.Total, counter.Version));
    }

    /// <summary>pyfly's <c>SqlAlchemySnapshotStore.save</c>: its upsert, <c>json.dumps</c> payload, naive UTC <c>created_at</c>.</summary>
    private static Task PyflySnapshotSaveAsync(TestDatabase test, string aggregateId, string aggregateType, int sequence, string payload) =>
        ExecuteAsync(test, """
            INSERT INTO pyfly_snapshots (aggregate_id, aggregate_type, sequence, payload, created_at)
            VALUES (@aid, @atype, @seq, @payload, @created_at)
            ON CONFLICT (aggregate_id) DO UPDATE SET
                aggregate_type = EXCLUDED.aggregate_type,
                sequence       = EXCLUDED.sequence,
                payload        = EXCLUDED.payload,
                created_at     = EXCLUDED.created_at
            WHERE pyfly_snapshots.sequence < EXCLUDED.sequence
            """,
            ("aid", aggregateId), ("atype", aggregateType), ("seq", sequence), ("payload", payload),
            ("created_at", DateTime.SpecifyKind(DateTime.UtcNow, DateTimeKind.Unspecified)));

    private sealed class RecordingUpcaster(List<string> seen) : IEventUpcaster
    {
        public bool CanUpcast(StoredEventEnvelope envelope) => envelope.EventType == "ThingHappened";

        public StoredEventEnvelope Upcast(StoredEventEnvelope envelope)
        {
            using var payload = JsonDocument.Parse(envelope.Payload);
            seen.Add(payload.RootElement.GetProperty("thing_name").GetString()!);
            return envelope;
        }
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now.ToUniversalTime();
    }
}

public sealed class SqlitePyflyTableSharingTests : PyflyTableSharingTests
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabases.CreateSqlite());

    protected override bool IsSqlite => true;
}

public sealed class PostgresPyflyTableSharingTests : PyflyTableSharingTests
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabases.CreatePostgresAsync();

    protected override bool IsSqlite => false;
}
