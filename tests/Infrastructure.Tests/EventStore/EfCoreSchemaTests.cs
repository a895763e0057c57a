using System.Data.Common;
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

/// <summary>What the durable stores promise about the tables themselves: the seed's DDL and additive upgrades (pyfly's rows: <see cref="PyflyTableSharingTests"/>).</summary>
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

    // A row as written before the envelope format (a bare payload), with only the seed's columns.
    private const string LegacyInsert = """
        INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
        VALUES ('{0}', '{1}', 'Counter', {2}, 'ThingHappened', '{{"thing_name": "legacy", "how_many": 4}}', '{{}}', '2026-03-04 05:06:07.123456', 1, NULL)
        """;

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
        await ExecuteAsync(test.Database, string.Format(LegacyInsert, "old-1", "legacy", 1));
        await ExecuteAsync(test.Database, string.Format(LegacyInsert, "old-2", "legacy", 2));
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
    public async Task A_start_up_on_an_unchanged_schema_runs_no_DDL_so_it_waits_for_no_lock()
    {
        var test = Own(await CreateDatabaseAsync());
        await test.Database.EnsureSchemaAsync();
        // A long transaction of a running instance holds the event table: on PostgreSQL a read's share lock, which any
        // ALTER TABLE waits for (and queues every later append behind); on SQLite the write lock.
        await using var running = await test.Database.DataSource.OpenConnectionAsync();
        await using var transaction = await running.BeginTransactionAsync();
        await using (var read = running.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = "SELECT COUNT(*) FROM pyfly_event_store";
            await read.ExecuteScalarAsync();
        }

        var restarted = Own(new EventStoreDatabase(test.Connection, TestDatabase.DefaultReadModels));
        var schema = restarted.EnsureSchemaAsync();
        Assert.Same(schema, await Task.WhenAny(schema, Task.Delay(TimeSpan.FromSeconds(10))));
        await schema;
        await transaction.RollbackAsync();
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
