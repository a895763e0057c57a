using System.Data.Common;
using System.Text.Json.Nodes;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Tests.Pyfly;
using Xunit;
using static OrdersEs.Infrastructure.Tests.Outbox.OutboxTestKit;

namespace OrdersEs.Infrastructure.Tests.Outbox;

public sealed class InMemoryOutboxTests : OutboxContract
{
    protected override Task<Setup> CreateAsync(TimeProvider? time = null)
    {
        var signal = new EventStoreSignal();
        var outbox = new InMemoryOutbox(time);
        var store = new InMemoryEventStore(TestKernel.Envelopes(), signal: signal, outbox: outbox);
        return Task.FromResult(new Setup(store, outbox, outbox, signal, () => outbox));
    }

    [Fact]
    public async Task Store_without_an_outbox_keeps_working()
    {
        var store = new InMemoryEventStore(TestKernel.Envelopes());
        Assert.Equal(2, (await store.AppendAsync(NewId(), "Counter", Things(2), 0)).Count);
    }
}

/// <summary>The durable outbox: the contract plus what only a table shows (the trigger and its transaction).</summary>
public abstract class EfCoreOutboxContract : OutboxContract
{
    protected abstract Task<TestDatabase> CreateDatabaseAsync();

    protected TestDatabase Database { get; private set; } = null!;

    protected override async Task<Setup> CreateAsync(TimeProvider? time = null)
    {
        Database = Own(await CreateDatabaseAsync());
        var signal = new EventStoreSignal();
        var store = new EfCoreEventStore(Database.Database, TestKernel.Envelopes(), signal: signal);
        var outbox = new EfCoreOutboxStore(Database.Database, time);
        return new Setup(store, outbox, outbox, signal,
            () => new EfCoreOutboxStore(Own(new EventStoreDatabase(Database.Connection)), time));
    }

    private PyflyTable Pyfly() => new(async () => await Database.Database.OpenConnectionAsync(), Database.Connection.Provider == DatabaseProvider.Sqlite);

    [Fact]
    public async Task An_event_pyfly_appended_gets_an_outbox_message_carrying_its_event_payload_and_metadata()
    {
        var setup = await CreateAsync();
        var written = Assert.Single(await Pyfly().AppendAsync("counter-7", "Counter", [new PyflyEvent("thing_renamed_v2",
            new JsonObject { ["new_name"] = "seven" }, DateTimeOffset.UtcNow, new JsonObject { ["correlation_id"] = "py-7" })], 0));

        var message = Assert.Single(await setup.Outbox.ClaimAsync("test", 10, TimeSpan.FromMinutes(1), CancellationToken.None));
        Assert.Equal((written.EventId, "counter-7", 1), (message.EventId, message.AggregateId, message.Sequence));
        Assert.Equal("thing_renamed_v2", message.Envelope!.EventType);
        Assert.Equal("""{"new_name": "seven"}""", message.Envelope.Payload);
        Assert.Equal("py-7", message.Envelope.Metadata["correlation_id"]);
        Assert.True(message.Envelope.GlobalPosition > 0);
        await using (var connection = await Database.Database.OpenConnectionAsync())
        {
            await using var check = connection.CreateCommand();
            check.CommandText = $"SELECT o.global_position FROM orderses_outbox o WHERE o.event_id = '{written.EventId}'";
            Assert.Equal(message.Envelope.GlobalPosition, Convert.ToInt64(await check.ExecuteScalarAsync()));
        }
    }

    [Theory]
    [InlineData("""
        {"event_id": "broken-1", "aggregate_id": "counter-9", "aggregate_type": "Counter", "sequence": 1, "event_type": "thing_renamed_v2", "payload": {"new_name": "nine"}, "metadata": {}, "occurred_at": "2026-07-01T10:00:00+00:00", "version": "one"}
        """, "envelope.version")]
    [InlineData("""{"broken":""", "'(the payload)' is not a JSON object")]
    [InlineData("not json at all", "'(the payload)' is not a JSON object")]
    public async Task A_row_that_cannot_go_out_is_dead_lettered_at_once_with_the_reason_and_the_rest_flows(string payload, string reason)
    {
        var setup = await CreateAsync();
        await using (var connection = await Database.Database.OpenConnectionAsync())
        await using (var insert = connection.CreateCommand())
        {
            // A malformed envelope, or a bare payload that is no JSON object (published as application/json, it could not be read).
            insert.CommandText = """
                INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
                VALUES ('broken-1', 'counter-9', 'Counter', 1, 'thing_renamed_v2', @payload, '{}', '2026-07-01 10:00:00', 1, NULL)
                """;
            var parameter = insert.CreateParameter();
            parameter.ParameterName = "@payload";
            parameter.Value = payload;
            insert.Parameters.Add(parameter);
            await insert.ExecuteNonQueryAsync();
        }
        var healthy = await setup.Events.AppendAsync(NewId(), "Counter", Things(2), 0);
        var bus = new RecordingPublisher();
        await StartAsync(setup, bus);

        await EventuallyAsync(() => bus.Delivered.Count == 2, "the healthy messages delivered");
        await EventuallyAsync(async () => (await setup.Monitor.GetCountsAsync()).DeadLettered == 1, "a dead letter");
        var letter = Assert.Single(await setup.Monitor.GetDeadLettersAsync());
        Assert.Equal(("broken-1", 1), (letter.EventId, letter.Attempts));
        Assert.Contains(reason, letter.LastError);
        Assert.DoesNotContain(bus.Attempts, a => a.EventId == "broken-1");
        Assert.Equal(healthy.Select(e => e.EventId), bus.Delivered.Select(d => d.EventId));
    }

    [Fact]
    public async Task Rolled_back_insert_leaves_no_outbox_message()
    {
        var setup = await CreateAsync();
        await setup.Events.AppendAsync(NewId(), "Counter", Things(1), 0);
        await using (var connection = await Database.Database.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await ExecuteAsync(connection, """
                INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
                VALUES ('doomed', 'counter-8', 'Counter', 1, 'ThingHappened', '{}', '{}', '2025-01-31 12:00:00', 1, NULL)
                """, transaction);
            await transaction.RollbackAsync();
        }

        Assert.Equal(new OutboxCounts(1, 0, 0), await setup.Monitor.GetCountsAsync());
    }

    [Fact]
    public async Task Schema_creation_is_idempotent_and_keeps_outbox_rows()
    {
        var setup = await CreateAsync();
        await setup.Events.AppendAsync(NewId(), "Counter", Things(2), 0);
        await using (var again = new EventStoreDatabase(Database.Connection))
        {
            await again.EnsureSchemaAsync();
            await new EfCoreEventStore(again, TestKernel.Envelopes()).AppendAsync(NewId(), "Counter", Things(1), 0);
        }
        // One trigger, not two: three events, three messages.
        Assert.Equal(new OutboxCounts(3, 0, 0), await setup.Monitor.GetCountsAsync());
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}

public sealed class SqliteOutboxTests : EfCoreOutboxContract
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabases.CreateSqlite());
}

public sealed class PostgresOutboxTests : EfCoreOutboxContract
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabases.CreatePostgresAsync();

    [Fact]
    public async Task With_stale_statistics_after_a_burst_the_claim_checks_predecessors_in_the_retrying_index_only()
    {
        var setup = await CreateAsync();
        await using var connection = await Database.Database.OpenConnectionAsync();
        // Statistics taken while nothing waited, then a burst: what autovacuum leaves for up to a minute.
        await BurstAsync(setup);
        await QueryAsync(connection, "UPDATE orderses_outbox SET delivered_at = now() RETURNING 'x'");
        await QueryAsync(connection, "ANALYZE orderses_outbox; SELECT 'x'");
        await BurstAsync(setup);

        var plan = await ExplainClaimAsync(connection);

        // Any other access to the predecessors reads every waiting row per candidate: seconds per claim at 50,000.
        Assert.Contains("orderses_outbox_retrying_idx on orderses_outbox p", plan);
    }

    [Fact]
    public async Task A_claim_writes_no_row_of_the_outbox_and_settling_writes_each_delivered_row_once()
    {
        var setup = await CreateAsync();
        await using var connection = await Database.Database.OpenConnectionAsync();
        await BurstAsync(setup);
        // xmin names the transaction that wrote a row's current version.
        const string versions = "SELECT string_agg(id || ':' || xmin::text, ',' ORDER BY id) FROM orderses_outbox";
        var appended = await QueryAsync(connection, versions);

        var claimed = await setup.Outbox.ClaimAsync("owner", 500, TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal(500, claimed.Count);
        // Claiming 500 messages wrote their aggregates' claims, not the messages: every row is the appended version.
        Assert.Equal(appended, await QueryAsync(connection, versions));
        Assert.Equal("50", await QueryAsync(connection, "SELECT count(*)::text FROM orderses_outbox_claims"));

        await setup.Outbox.MarkDeliveredAsync(claimed.Select(m => m.Id).ToArray(), CancellationToken.None);
        Assert.Equal("500 1", await QueryAsync(connection,
            "SELECT count(*) || ' ' || count(DISTINCT xmin::text) FROM orderses_outbox WHERE delivered_at IS NOT NULL"));
        Assert.Equal("0", await QueryAsync(connection, "SELECT count(*)::text FROM orderses_outbox_claims"));
    }

    private static async Task BurstAsync(Setup setup)
    {
        for (var i = 0; i < 200; i++) await setup.Events.AppendAsync(NewId(), "Counter", Things(10), 0);
    }

    private static async Task<string> ExplainClaimAsync(DbConnection connection)
    {
        var now = DateTime.SpecifyKind(DateTime.UtcNow, DateTimeKind.Unspecified);
        return await QueryAsync(connection, "EXPLAIN " + EfCoreOutboxStore.PostgresClaimSql, command =>
        {
            foreach (var (name, value) in new (string, object)[] { ("now", now), ("limit", 500), ("owner", "test"), ("until", now.AddSeconds(5)) })
                command.Parameters.Add(new Npgsql.NpgsqlParameter(name, value));
        });
    }

    /// <summary>The first column of every row, one line each.</summary>
    private static async Task<string> QueryAsync(DbConnection connection, string sql, Action<DbCommand>? bind = null)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        bind?.Invoke(command);
        await using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string>();
        while (await reader.ReadAsync()) lines.Add(reader.GetString(0));
        return string.Join('\n', lines);
    }
}
