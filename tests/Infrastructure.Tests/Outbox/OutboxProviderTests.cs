using System.Data.Common;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Persistence;
using Xunit;
using static OrdersEs.Infrastructure.Tests.Outbox.OutboxTestKit;

namespace OrdersEs.Infrastructure.Tests.Outbox;

public sealed class InMemoryOutboxTests : OutboxContract
{
    protected override Task<Setup> CreateAsync()
    {
        var signal = new EventStoreSignal();
        var outbox = new InMemoryOutbox();
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

    protected override async Task<Setup> CreateAsync()
    {
        Database = Own(await CreateDatabaseAsync());
        var signal = new EventStoreSignal();
        var store = new EfCoreEventStore(Database.Database, TestKernel.Envelopes(), signal: signal);
        var outbox = new EfCoreOutboxStore(Database.Database);
        return new Setup(store, outbox, outbox, signal,
            () => new EfCoreOutboxStore(Own(new EventStoreDatabase(Database.Connection))));
    }

    [Fact]
    public async Task Row_inserted_with_only_the_seed_columns_gets_an_outbox_message()
    {
        var setup = await CreateAsync();
        await using (var connection = await Database.Database.OpenConnectionAsync())
        {
            await ExecuteAsync(connection, """
                INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
                VALUES ('pyfly-1', 'order-7', 'Order', 1, 'OrderPlaced', '{"amount":5}', '{}', '2025-01-31 12:00:00', 1, NULL)
                """);
        }

        var message = Assert.Single(await setup.Outbox.ClaimAsync("test", 10, TimeSpan.FromMinutes(1), CancellationToken.None));
        Assert.Equal(("pyfly-1", "order-7", 1), (message.EventId, message.AggregateId, message.Sequence));
        Assert.Equal("OrderPlaced", message.Envelope!.EventType);
        Assert.True(message.Envelope.GlobalPosition > 0);
        await using (var connection = await Database.Database.OpenConnectionAsync())
        {
            await using var check = connection.CreateCommand();
            check.CommandText = "SELECT o.global_position FROM orderses_outbox o WHERE o.event_id = 'pyfly-1'";
            Assert.Equal(message.Envelope.GlobalPosition, Convert.ToInt64(await check.ExecuteScalarAsync()));
        }
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
                VALUES ('doomed', 'order-8', 'Order', 1, 'OrderPlaced', '{}', '{}', '2025-01-31 12:00:00', 1, NULL)
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
}
