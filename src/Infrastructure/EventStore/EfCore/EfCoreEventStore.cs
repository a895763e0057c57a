using System.Data.Common;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Diagnostics;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.EventStore.EfCore;

/// <summary>
/// The durable event store on PostgreSQL or SQLite (<c>pyfly_event_store</c>), in pyfly's row format
/// (<see cref="EventRowFormat"/>). Reads of one stream go through EF Core compiled queries; the append and the
/// global read are hand-written SQL, one round trip each on PostgreSQL.
/// </summary>
public sealed class EfCoreEventStore(
    EventStoreDatabase database, EnvelopeFactory envelopes, UpcasterChain? upcasters = null, EventStoreSignal? signal = null) : IEventStore
{
    // Compiled per store: a compiled query is bound to one EF model, and each provider has its own.
    private readonly Func<EventStoreDbContext, string, int, IAsyncEnumerable<EventRow>> _streamQuery =
        EF.CompileAsyncQuery<EventStoreDbContext, string, int, EventRow>((db, aggregateId, afterSequence) =>
            db.Events.Where(e => e.AggregateId == aggregateId && e.Sequence > afterSequence).OrderBy(e => e.Sequence));

    private readonly Func<EventStoreDbContext, string, Task<int?>> _latestVersionQuery =
        EF.CompileAsyncQuery((EventStoreDbContext db, string aggregateId) =>
            db.Events.Where(e => e.AggregateId == aggregateId).Max(e => (int?)e.Sequence));

    private readonly EventStoreDatabase _database = database;
    private readonly EnvelopeFactory _envelopes = envelopes;
    private readonly UpcasterChain _upcasters = upcasters ?? UpcasterChain.None;

    public async Task<IReadOnlyList<StoredEventEnvelope>> AppendAsync(string aggregateId, string aggregateType, IReadOnlyList<DomainEvent> events,
        int expectedVersion, EventContext? context = null, CancellationToken cancellationToken = default)
    {
        var pending = _envelopes.Create(aggregateId, aggregateType, events, expectedVersion, context);
        if (pending.Length == 0) return [];
        var started = Stopwatch.GetTimestamp();
        var appended = false;
        try
        {
            appended = _database.Provider == DatabaseProvider.PostgreSql
                ? await PostgresAppend.TryAppendAsync(_database, pending, expectedVersion, context?.Participant, cancellationToken)
                : await SqliteAppend.TryAppendAsync(_database, pending, expectedVersion, context?.Participant, cancellationToken);
            if (appended)
            {
                signal?.NotifyAppended();
                return pending;
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && !e.ConstraintName!.EndsWith("_pkey", StringComparison.Ordinal))
        {
            // A racing writer committed the same sequence first: the constraint is the backstop of the version check.
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "append");
        }
        finally
        {
            OrdersEsTelemetry.RecordAppend(_database.Provider == DatabaseProvider.PostgreSql ? "postgresql" : "sqlite",
                pending.Length, pending[^1].GlobalPosition, started, appended);
        }
        throw new ConcurrencyException(aggregateId, expectedVersion, await LatestVersionAsync(aggregateId, cancellationToken));
    }

    public async Task<IReadOnlyList<StoredEventEnvelope>> LoadAsync(string aggregateId, int afterSequence = 0, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await _database.CreateContextAsync(cancellationToken);
            var envelopes = new List<StoredEventEnvelope>();
            await foreach (var row in _streamQuery(db, aggregateId, afterSequence).WithCancellation(cancellationToken))
                envelopes.Add(_upcasters.Apply(EventRowFormat.Decode(row)));
            return envelopes;
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "load a stream");
        }
    }

    public async Task<IReadOnlyList<StoredEventEnvelope>> ReadAllAsync(GlobalCheckpoint after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        try
        {
            await using var connection = await _database.OpenConnectionAsync(cancellationToken);
            await using var command = _database.Provider == DatabaseProvider.PostgreSql
                ? PostgresAppend.ReadAllCommand(connection, after, limit)
                : SqliteAppend.ReadAllCommand(connection, after, limit);
            var envelopes = new List<StoredEventEnvelope>(Math.Min(limit, 1024));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                envelopes.Add(_upcasters.Apply(EventRowReader.Read(reader, withCommitId: _database.Provider == DatabaseProvider.PostgreSql)));
            return envelopes;
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "read the global order");
        }
    }

    public async Task<EventLag> LagAsync(GlobalCheckpoint after, int cap, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cap);
        try
        {
            await using var connection = await _database.OpenConnectionAsync(cancellationToken);
            await using var command = _database.Provider == DatabaseProvider.PostgreSql
                ? PostgresAppend.LagCommand(connection, after, cap)
                : SqliteAppend.LagCommand(connection, after, cap);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var events = (int)reader.GetInt64(0);
            return events == 0 ? EventLag.None : new EventLag(events, EventRowReader.AsUtc(reader.GetDateTime(1)));
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "measure a lag");
        }
    }

    public async Task<int> LatestVersionAsync(string aggregateId, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await _database.CreateContextAsync(cancellationToken);
            return await _latestVersionQuery(db, aggregateId) ?? 0;
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "read a stream version");
        }
    }

    /// <summary>PostgreSQL: check and insert in one statement (one round trip); the global order is gap-safe by transaction id.</summary>
    internal static class PostgresAppend
    {
        // The outbox rows go in the same statement (see OutboxSchema): outbox_written tells the trigger that
        // announces other writers' rows (a pyfly service's) to leave these alone.
        private const string AppendSql = """
            WITH appended AS (
                INSERT INTO pyfly_event_store
                    (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id, outbox_written)
                SELECT e.event_id, $1, $2, e.sequence, e.event_type, e.payload, e.metadata, e.occurred_at, e.version, $3, TRUE
                FROM unnest($4::varchar[], $5::int[], $6::varchar[], $7::text[], $8::text[], $9::timestamp[], $10::int[])
                    AS e(event_id, sequence, event_type, payload, metadata, occurred_at, version)
                WHERE (SELECT COALESCE(MAX(s.sequence), 0) FROM pyfly_event_store s WHERE s.aggregate_id = $1) = $11
                RETURNING event_id, aggregate_id, sequence, global_position, transaction_id),
            announced AS (
                INSERT INTO orderses_outbox (event_id, aggregate_id, sequence, global_position)
                SELECT event_id, aggregate_id, sequence, global_position FROM appended ORDER BY global_position)
            SELECT sequence, global_position, transaction_id::text::bigint FROM appended
            """;

        // Only transactions older than every running one are read: a late commit with a lower position can
        // then never be passed over, and a rolled-back one simply never appears. The commit id column is aliased:
        // unaliased, its output name would be transaction_id, and ORDER BY would sort by that bigint expression
        // instead of walking the (transaction_id, global_position) index: a sort of every later row per batch.
        internal const string ReadAllSql = $"""
            SELECT {EventRowReader.Columns}, transaction_id::text::bigint AS commit_id
            FROM pyfly_event_store
            WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
              AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY transaction_id, global_position
            LIMIT $3
            """;

        public static async Task<bool> TryAppendAsync(EventStoreDatabase database, StoredEventEnvelope[] pending, int expectedVersion,
            IAppendParticipant? participant, CancellationToken cancellationToken)
        {
            var first = pending[0];
            var count = pending.Length;
            var eventIds = new string[count];
            var sequences = new int[count];
            var eventTypes = new string[count];
            var payloads = new string[count];
            var metadata = new string[count];
            var occurredAt = new DateTime[count];
            var versions = new int[count];
            for (var i = 0; i < count; i++)
            {
                var envelope = pending[i];
                eventIds[i] = envelope.EventId;
                sequences[i] = envelope.Sequence;
                eventTypes[i] = envelope.EventType;
                payloads[i] = EventRowFormat.PayloadColumn(envelope);
                metadata[i] = EventSerializer.SerializeMetadata(envelope.Metadata);
                occurredAt[i] = EventRowReader.ToColumn(envelope.OccurredAt);
                versions[i] = envelope.SchemaVersion;
            }

            await using var connection = (NpgsqlConnection)await database.OpenConnectionAsync(cancellationToken);
            // Without a participant the statement is its own transaction: one round trip.
            await using var transaction = participant is null ? null : await connection.BeginTransactionAsync(cancellationToken);
            if (participant is not null) await participant.WriteAsync(connection, transaction!, cancellationToken);
            await using var command = new NpgsqlCommand(AppendSql, connection, transaction)
            {
                Parameters =
                {
                    new NpgsqlParameter<string> { TypedValue = first.AggregateId },
                    new NpgsqlParameter<string> { TypedValue = first.AggregateType },
                    new NpgsqlParameter { Value = (object?)first.TenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Varchar },
                    new NpgsqlParameter<string[]> { TypedValue = eventIds },
                    new NpgsqlParameter<int[]> { TypedValue = sequences },
                    new NpgsqlParameter<string[]> { TypedValue = eventTypes },
                    new NpgsqlParameter<string[]> { TypedValue = payloads },
                    new NpgsqlParameter<string[]> { TypedValue = metadata },
                    new NpgsqlParameter<DateTime[]> { TypedValue = occurredAt, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Timestamp },
                    new NpgsqlParameter<int[]> { TypedValue = versions },
                    new NpgsqlParameter<int> { TypedValue = expectedVersion },
                },
            };
            var stored = 0;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    var index = reader.GetInt32(0) - expectedVersion - 1;
                    pending[index] = pending[index] with { GlobalPosition = reader.GetInt64(1), CommitId = reader.GetInt64(2) };
                    stored++;
                }
            }
            if (stored != count) return false; // the version check failed: nothing inserted, the participant rolls back
            if (transaction is not null) await transaction.CommitAsync(cancellationToken);
            return true;
        }

        // Every committed event counts, also those the gap-safe read still holds back: the head as it is now.
        private const string LagSql = """
            SELECT
                (SELECT count(*) FROM (
                    SELECT 1 FROM pyfly_event_store WHERE (transaction_id, global_position) > ($1::text::xid8, $2) LIMIT $3) behind),
                (SELECT occurred_at FROM pyfly_event_store WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
                 ORDER BY transaction_id, global_position LIMIT 1)
            """;

        public static DbCommand ReadAllCommand(DbConnection connection, GlobalCheckpoint after, int limit) => AfterCommand(ReadAllSql, connection, after, limit);

        public static DbCommand LagCommand(DbConnection connection, GlobalCheckpoint after, int cap) => AfterCommand(LagSql, connection, after, cap);

        private static NpgsqlCommand AfterCommand(string sql, DbConnection connection, GlobalCheckpoint after, int limit) =>
            new(sql, (NpgsqlConnection)connection)
            {
                Parameters =
                {
                    new NpgsqlParameter<string> { TypedValue = after.CommitId.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                    new NpgsqlParameter<long> { TypedValue = after.Position },
                    new NpgsqlParameter<int> { TypedValue = limit },
                },
            };
    }

    /// <summary>SQLite: one writer at a time (BEGIN IMMEDIATE), so insertion order is commit order and positions never gap.</summary>
    private static class SqliteAppend
    {
        private const int RowsPerStatement = 500;

        private const string ReadAllSql = $"""
            SELECT {EventRowReader.Columns}
            FROM pyfly_event_store
            WHERE global_position > $position
            ORDER BY global_position
            LIMIT $limit
            """;

        public static async Task<bool> TryAppendAsync(EventStoreDatabase database, StoredEventEnvelope[] pending, int expectedVersion,
            IAppendParticipant? participant, CancellationToken cancellationToken)
        {
            await using var connection = (SqliteConnection)await database.OpenConnectionAsync(cancellationToken);
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            long lastPosition;
            await using (var check = connection.CreateCommand())
            {
                check.Transaction = transaction;
                check.CommandText = """
                    SELECT (SELECT COALESCE(MAX(sequence), 0) FROM pyfly_event_store WHERE aggregate_id = $id),
                           (SELECT COALESCE(MAX(global_position), 0) FROM pyfly_event_store)
                    """;
                check.Parameters.AddWithValue("$id", pending[0].AggregateId);
                await using var reader = await check.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                if (reader.GetInt32(0) != expectedVersion) return false;
                lastPosition = reader.GetInt64(1);
            }
            if (participant is not null) await participant.WriteAsync(connection, transaction, cancellationToken);

            for (var start = 0; start < pending.Length; start += RowsPerStatement)
            {
                await using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                var rows = new List<string>();
                for (var i = start; i < Math.Min(start + RowsPerStatement, pending.Length); i++)
                {
                    var envelope = pending[i] = pending[i] with { GlobalPosition = ++lastPosition };
                    rows.Add($"($e{i}, $a, $t, $s{i}, $y{i}, $p{i}, $m{i}, $o{i}, $v{i}, $tenant, $g{i})");
                    insert.Parameters.AddWithValue($"$e{i}", envelope.EventId);
                    insert.Parameters.AddWithValue($"$s{i}", envelope.Sequence);
                    insert.Parameters.AddWithValue($"$y{i}", envelope.EventType);
                    insert.Parameters.AddWithValue($"$p{i}", EventRowFormat.PayloadColumn(envelope));
                    insert.Parameters.AddWithValue($"$m{i}", EventSerializer.SerializeMetadata(envelope.Metadata));
                    insert.Parameters.AddWithValue($"$o{i}", EventRowReader.ToColumn(envelope.OccurredAt));
                    insert.Parameters.AddWithValue($"$v{i}", envelope.SchemaVersion);
                    insert.Parameters.AddWithValue($"$g{i}", envelope.GlobalPosition);
                }
                insert.Parameters.AddWithValue("$a", pending[0].AggregateId);
                insert.Parameters.AddWithValue("$t", pending[0].AggregateType);
                insert.Parameters.AddWithValue("$tenant", (object?)pending[0].TenantId ?? DBNull.Value);
                insert.CommandText =
                    "INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id, global_position) VALUES "
                    + string.Join(", ", rows);
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
            return true;
        }

        private const string LagSql = """
            SELECT
                (SELECT count(*) FROM (SELECT 1 FROM pyfly_event_store WHERE global_position > $position LIMIT $limit)),
                (SELECT occurred_at FROM pyfly_event_store WHERE global_position > $position ORDER BY global_position LIMIT 1)
            """;

        public static DbCommand ReadAllCommand(DbConnection connection, GlobalCheckpoint after, int limit) => AfterCommand(ReadAllSql, connection, after, limit);

        public static DbCommand LagCommand(DbConnection connection, GlobalCheckpoint after, int cap) => AfterCommand(LagSql, connection, after, cap);

        private static SqliteCommand AfterCommand(string sql, DbConnection connection, GlobalCheckpoint after, int limit)
        {
            var command = (SqliteCommand)connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$position", after.Position);
            command.Parameters.AddWithValue("$limit", limit);
            return command;
        }
    }
}
