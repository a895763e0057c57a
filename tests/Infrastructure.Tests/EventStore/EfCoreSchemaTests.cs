using System.Data.Common;
using System.Text.Json;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Snapshots;
using OrdersEs.Infrastructure.Snapshots.EfCore;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.EventStore;

/// <summary>What the durable stores promise about the tables themselves: the seed's DDL, additive upgrades, foreign writers.</summary>
public abstract class EfCoreSchemaTests : OwnsResources
{
    protected abstract Task<TestDatabase> CreateDatabaseAsync();

    private static async Task ExecuteAsync(EventStoreDatabase database, string sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<object?[]>> QueryAsync(EventStoreDatabase database, string sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    private const string ForeignInsert = """
        INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
        VALUES ('{0}', '{1}', 'Counter', {2}, 'ThingHappened', '{{"thing_name": "from-pyfly", "how_many": 4}}', '{{"correlation_id": "py-1", "attempt": 2}}', '2026-03-04 05:06:07.123456', 1, NULL)
        """;

    [Fact]
    public async Task A_row_inserted_with_only_the_seed_columns_loads_and_reads_in_order()
    {
        var test = Own(await CreateDatabaseAsync());
        var store = new EfCoreEventStore(test.Database, TestKernel.Envelopes());
        await store.AppendAsync("ours", "Counter", [new ThingHappened("ours", 1)], 0);
        await ExecuteAsync(test.Database, string.Format(ForeignInsert, "py-event-1", "theirs", 1));
        await store.AppendAsync("ours", "Counter", [new ThingHappened("ours", 2)], 1);

        var loaded = Assert.Single(await store.LoadAsync("theirs"));
        Assert.Equal("from-pyfly", JsonDocument.Parse(loaded.Payload).RootElement.GetProperty("thing_name").GetString());
        Assert.Equal("py-1", loaded.Metadata[EventMetadata.CorrelationId]);
        Assert.Equal(new DateTimeOffset(2026, 3, 4, 5, 6, 7, 123, 456, TimeSpan.Zero), loaded.OccurredAt);
        Assert.True(loaded.GlobalPosition > 0);

        var all = await Settled.ReadAllAsync(store, GlobalCheckpoint.Start, expected: 3);
        Assert.Equal(["ours", "theirs", "ours"], all.Select(e => e.AggregateId));
        Assert.Equal(all.Select(e => e.Checkpoint).Order(), all.Select(e => e.Checkpoint));

        var counter = await new EventSourcedRepository<Counter>(store, TestKernel.Serializer(), () => new Counter()).LoadAsync("theirs");
        Assert.Equal(4, counter!.Total);
    }

    [Fact]
    public async Task An_existing_pyfly_table_is_upgraded_additively_and_its_rows_kept()
    {
        var test = Own(await CreateDatabaseAsync());
        await ExecuteAsync(test.Database, """
            CREATE TABLE pyfly_event_store (
                event_id VARCHAR(64) PRIMARY KEY, aggregate_id VARCHAR(64) NOT NULL, aggregate_type VARCHAR(255) NOT NULL,
                sequence INTEGER NOT NULL, event_type VARCHAR(255) NOT NULL, payload TEXT NOT NULL, metadata TEXT NOT NULL,
                occurred_at TIMESTAMP NOT NULL, version INTEGER NOT NULL, tenant_id VARCHAR(64) NULL, UNIQUE (aggregate_id, sequence))
            """);
        await ExecuteAsync(test.Database, """
            CREATE TABLE pyfly_snapshots (aggregate_id VARCHAR(64) PRIMARY KEY, aggregate_type VARCHAR(255) NOT NULL,
                sequence INTEGER NOT NULL, payload TEXT NOT NULL, created_at TIMESTAMP NOT NULL)
            """);
        await ExecuteAsync(test.Database, string.Format(ForeignInsert, "old-1", "legacy", 1));
        await ExecuteAsync(test.Database, string.Format(ForeignInsert, "old-2", "legacy", 2));
        await ExecuteAsync(test.Database, """
            INSERT INTO pyfly_snapshots (aggregate_id, aggregate_type, sequence, payload, created_at)
            VALUES ('legacy', 'Counter', 2, '{"total": 8}', '2026-03-04 05:06:07')
            """);

        var store = new EfCoreEventStore(test.Database, TestKernel.Envelopes());
        var stored = await store.AppendAsync("legacy", "Counter", [new ThingHappened("new", 1)], 2);

        Assert.Equal([1, 2, 3], (await store.LoadAsync("legacy")).Select(e => e.Sequence));
        var all = await Settled.ReadAllAsync(store, GlobalCheckpoint.Start, expected: 3);
        Assert.Equal(["old-1", "old-2", stored[0].EventId], all.Select(e => e.EventId));
        var snapshot = await new EfCoreSnapshotStore(test.Database).LoadAsync("legacy");
        Assert.Equal(1, snapshot!.SchemaVersion);
        Assert.Equal(2, snapshot.Sequence);
    }

    [Fact]
    public async Task Schema_creation_is_safe_when_several_instances_start_at_once()
    {
        var test = Own(await CreateDatabaseAsync());
        var instances = Enumerable.Range(0, 6).Select(_ => Own(new EventStoreDatabase(test.Connection))).ToArray();
        await Task.WhenAll(instances.Select(i => Task.Run(() => i.EnsureSchemaAsync())));
        await Task.WhenAll(instances.Select((i, n) => new EfCoreEventStore(i, TestKernel.Envelopes())
            .AppendAsync($"s-{n}", "Counter", [new ThingHappened("x", n)], 0)));
        Assert.Equal(6, (await Settled.ReadAllAsync(new EfCoreEventStore(test.Database, TestKernel.Envelopes()), GlobalCheckpoint.Start, expected: 6)).Count);
    }

    [Fact]
    public async Task Columns_hold_snake_case_payload_json_metadata_and_utc_time()
    {
        var test = Own(await CreateDatabaseAsync());
        var time = new FixedTime(new DateTimeOffset(2026, 5, 6, 9, 30, 0, TimeSpan.FromHours(2)));
        var store = new EfCoreEventStore(test.Database, TestKernel.Envelopes(time));
        await store.AppendAsync("c-1", "Counter", [new ThingHappened("w", 3)], 0, new EventContext(TenantId: "t-1", CorrelationId: "corr"));

        var row = Assert.Single(await QueryAsync(test.Database, "SELECT payload, metadata, occurred_at, tenant_id, version FROM pyfly_event_store"));
        Assert.Equal("""{"thing_name":"w","how_many":3}""", row[0]);
        using var metadata = JsonDocument.Parse((string)row[1]!);
        Assert.Equal("corr", metadata.RootElement.GetProperty("correlation_id").GetString());
        Assert.Equal("t-1", metadata.RootElement.GetProperty("tenant_id").GetString());
        Assert.Equal(new DateTime(2026, 5, 6, 7, 30, 0), Convert.ToDateTime(row[2]));
        Assert.Equal("t-1", row[3]);
        Assert.Equal(1, Convert.ToInt32(row[4]));
    }

    [Fact]
    public async Task A_database_that_cannot_be_reached_raises_EventStoreException_not_a_provider_exception()
    {
        var store = new EfCoreEventStore(Own(new EventStoreDatabase(UnreachableDatabase())), TestKernel.Envelopes());
        var append = await Assert.ThrowsAsync<EventStoreException>(() => store.AppendAsync("x", "Counter", [new ThingHappened("x", 1)], 0));
        Assert.Equal(UnreachableIsTransient, append.IsTransient);
        Assert.IsAssignableFrom<DbException>(append.InnerException);
        Assert.DoesNotContain("secret", append.Message);
        var load = await Assert.ThrowsAsync<EventStoreException>(() => store.LoadAsync("x"));
        Assert.Equal(UnreachableIsTransient, load.IsTransient);
    }

    protected abstract StoreConnection UnreachableDatabase();

    /// <summary>A refused PostgreSQL connection may heal (503); a SQLite file that cannot be opened will not.</summary>
    protected abstract bool UnreachableIsTransient { get; }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now.ToUniversalTime();
    }
}

public sealed class SqliteSchemaTests : EfCoreSchemaTests
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabases.CreateSqlite());

    protected override StoreConnection UnreachableDatabase() =>
        new(DatabaseProvider.Sqlite, "Data Source=/proc/orderses-cannot-create-here/x.db");

    protected override bool UnreachableIsTransient => false;
}

public sealed class PostgresSchemaTests : EfCoreSchemaTests
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabases.CreatePostgresAsync();

    protected override StoreConnection UnreachableDatabase() =>
        new(DatabaseProvider.PostgreSql, "Host=127.0.0.1;Port=1;Username=nobody;Password=secret;Timeout=2");

    protected override bool UnreachableIsTransient => true;
}
