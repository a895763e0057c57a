using System.Data.Common;
using System.Globalization;
using System.Text;
using Npgsql;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Diagnostics;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Outbox;

/// <summary>
/// The durable outbox on PostgreSQL or SQLite (<c>orderses_outbox</c>, filled by a trigger in the append's transaction;
/// see <see cref="OutboxSchema"/>), and its operator view. Hand-written SQL, one round trip per call on PostgreSQL.
/// </summary>
/// <remarks>
/// Claims are serialized: on PostgreSQL by a transaction-scoped advisory lock taken in the same implicit transaction
/// as the claiming <c>UPDATE ... FOR UPDATE SKIP LOCKED</c>, on SQLite by <c>BEGIN IMMEDIATE</c>. Without that,
/// two concurrent claims could each see the other's not-yet-committed first message of an aggregate as free and
/// one could take message n+1 while the other takes n. Claims are short (one statement), so serializing them costs
/// little; publishing, the slow part, runs outside any transaction.
/// </remarks>
public sealed class EfCoreOutboxStore(EventStoreDatabase database, TimeProvider? timeProvider = null, UpcasterChain? upcasters = null)
    : IOutboxStore, IOutboxMonitor
{
    private const long ClaimLockKey = 7243019472311;

    // A message is due when nobody holds it and its retry time has come, no earlier message of its aggregate is
    // in flight or waiting for a retry, and no earlier one of its aggregate is a dead letter (it is parked until an
    // operator retries or skips that). Earlier due messages of the aggregate have lower ids, so ORDER BY id claims
    // them in the same batch or before. Each check is one probe of a small partial index (or of the dead letters'
    // index, usually empty), so the claim's cost stays per candidate row.
    // On PostgreSQL the in-flight check leaves out "p.delivered_at IS NULL": a delivered row never holds a future
    // claim or retry time (delivery clears both), and without it the only index the check can use is
    // orderses_outbox_waiting_idx, whatever the statistics say (see OutboxSchema). SQLite keeps it for its partial index.
    private static string DueCondition(bool postgres) => $"""
        o.delivered_at IS NULL
          AND (o.claimed_until IS NULL OR o.claimed_until <= @now)
          AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= @now)
          AND NOT EXISTS (
              SELECT 1 FROM orderses_outbox p
              WHERE p.aggregate_id = o.aggregate_id AND p.sequence < o.sequence{(postgres ? "" : " AND p.delivered_at IS NULL")}
                AND (p.claimed_until > @now OR p.next_attempt_at > @now))
          AND NOT EXISTS (
              SELECT 1 FROM orderses_outbox_dead_letters d
              WHERE d.aggregate_id = o.aggregate_id AND d.sequence < o.sequence)
        """;

    // Undelivered, not claimed now, after a dead letter of its aggregate.
    private const string ParkedCondition = """
        o.delivered_at IS NULL
          AND (o.claimed_until IS NULL OR o.claimed_until <= @now)
          AND EXISTS (
              SELECT 1 FROM orderses_outbox_dead_letters d
              WHERE d.aggregate_id = o.aggregate_id AND d.sequence < o.sequence)
        """;

    private static readonly string EventColumns = EventRowReader.ColumnsOf("e");

    // The UPDATE finds its rows through an array of the candidates' ids, so by primary key. Joined to the candidates
    // instead ("FROM candidates"), it was planned as a hash join over a scan of the whole table, delivered rows too:
    // half of each claim's time with 50,000 rows, and growing with the table.
    internal static readonly string PostgresClaimSql = $"""
        WITH candidates AS (
            SELECT o.id FROM orderses_outbox o
            WHERE {DueCondition(postgres: true)}
            ORDER BY o.id
            LIMIT @limit
            FOR UPDATE OF o SKIP LOCKED
        ), claimed AS (
            UPDATE orderses_outbox o SET claimed_by = @owner, claimed_until = @until
            WHERE o.id = ANY(ARRAY(SELECT id FROM candidates))
            RETURNING o.id, o.event_id, o.aggregate_id, o.sequence, o.attempts
        )
        SELECT o.id, o.event_id, o.aggregate_id, o.sequence, o.attempts, {EventColumns}
        FROM claimed o LEFT JOIN pyfly_event_store e ON e.event_id = o.event_id
        ORDER BY o.id
        """;

    private static readonly string SqliteSelectDueSql = $"""
        SELECT o.id, o.event_id, o.aggregate_id, o.sequence, o.attempts, {EventColumns}
        FROM orderses_outbox o LEFT JOIN pyfly_event_store e ON e.event_id = o.event_id
        WHERE {DueCondition(postgres: false)}
        ORDER BY o.id
        LIMIT @limit
        """;

    private const string CountsSql = $"""
        SELECT (SELECT COUNT(*) FROM orderses_outbox WHERE delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until <= @now)),
               (SELECT COUNT(*) FROM orderses_outbox WHERE delivered_at IS NULL AND claimed_until > @now),
               (SELECT COUNT(*) FROM orderses_outbox_dead_letters),
               (SELECT COUNT(*) FROM orderses_outbox o WHERE {ParkedCondition})
        """;

    private const string DeadLettersSql = """
        SELECT d.id, d.event_id, d.aggregate_id, d.sequence, d.event_type, d.attempts, d.last_error, d.failed_at,
               (SELECT COUNT(*) FROM orderses_outbox o
                WHERE o.aggregate_id = d.aggregate_id AND o.sequence > d.sequence AND o.delivered_at IS NULL
                  AND (o.claimed_until IS NULL OR o.claimed_until <= @now))
        FROM orderses_outbox_dead_letters d ORDER BY d.failed_at, d.id LIMIT @limit
        """;

    private const string SkippedColumns = "id, event_id, aggregate_id, sequence, event_type, attempts, last_error, failed_at, reason, skipped_at";

    // Only the aggregate's first dead letter goes back: a later one would be delivered before it.
    private const string NoEarlierDeadLetter = """
        NOT EXISTS (
            SELECT 1 FROM orderses_outbox_dead_letters e WHERE e.aggregate_id = d.aggregate_id AND e.sequence < d.sequence)
        """;

    private const string DeadLetterColumns =
        "id, event_id, aggregate_id, sequence, global_position, event_type, created_at, attempts, last_error, failed_at";

    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly UpcasterChain _upcasters = upcasters ?? UpcasterChain.None;
    private bool IsPostgres => database.Provider == DatabaseProvider.PostgreSql;

    public async Task<IReadOnlyList<OutboxMessage>> ClaimAsync(string owner, int batchSize, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var now = _time.GetUtcNow();
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            return IsPostgres
                ? await ClaimOnPostgresAsync((NpgsqlConnection)connection, owner, batchSize, now, now + lease, cancellationToken)
                : await ClaimOnSqliteAsync(connection, owner, batchSize, now, now + lease, cancellationToken);
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "claim outbox messages");
        }
    }

    private async Task<IReadOnlyList<OutboxMessage>> ClaimOnPostgresAsync(
        NpgsqlConnection connection, string owner, int batchSize, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        // One round trip; a batch runs in one implicit transaction, so the advisory lock is held until the claim commits.
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT pg_advisory_xact_lock({ClaimLockKey})"));
        var claim = new NpgsqlBatchCommand(PostgresClaimSql);
        claim.Parameters.Add(Time("now", now));
        claim.Parameters.Add(new NpgsqlParameter<int>("limit", batchSize));
        claim.Parameters.Add(new NpgsqlParameter<string>("owner", owner));
        claim.Parameters.Add(Time("until", until));
        batch.BatchCommands.Add(claim);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return await ReadMessagesAsync(reader, cancellationToken);
    }

    private async Task<IReadOnlyList<OutboxMessage>> ClaimOnSqliteAsync(
        DbConnection connection, string owner, int batchSize, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        // Microsoft.Data.Sqlite begins IMMEDIATE: the write lock is taken before the read, so claims run one at a time.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        IReadOnlyList<OutboxMessage> messages;
        await using (var select = Command(connection, SqliteSelectDueSql, transaction))
        {
            select.Parameters.Add(Time("now", now));
            select.Parameters.Add(Parameter(select, "limit", batchSize));
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            messages = await ReadMessagesAsync(reader, cancellationToken);
        }
        if (messages.Count > 0)
        {
            await using var update = Command(connection,
                "UPDATE orderses_outbox SET claimed_by = @owner, claimed_until = @until WHERE id IN (SELECT value FROM json_each(@ids))", transaction);
            update.Parameters.Add(Parameter(update, "owner", owner));
            update.Parameters.Add(Time("until", until));
            update.Parameters.Add(Parameter(update, "ids", JsonIds(messages.Select(m => m.Id))));
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return messages;
    }

    // Only claims still this owner's: once a lease ran out and another instance took the message, it is theirs.
    public Task<int> RenewClaimsAsync(string owner, IReadOnlyCollection<long> ids, TimeSpan lease, CancellationToken cancellationToken) =>
        ids.Count == 0 ? Task.FromResult(0) : ExecuteAsync("renew outbox claims",
            $"UPDATE orderses_outbox SET claimed_until = @until WHERE claimed_by = @owner AND delivered_at IS NULL AND {IdsCondition}",
            c => AddAll(c, [Time("until", _time.GetUtcNow() + lease), Parameter(c, "owner", owner), IdsParameter(c, ids)]), cancellationToken);

    public Task MarkDeliveredAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken) =>
        ids.Count == 0 ? Task.CompletedTask : ExecuteAsync("mark outbox messages delivered", $"""
            UPDATE orderses_outbox SET delivered_at = @now, claimed_by = NULL, claimed_until = NULL, next_attempt_at = NULL, last_error = NULL
            WHERE {IdsCondition}
            """, c => AddAll(c, [Time("now", _time.GetUtcNow()), IdsParameter(c, ids)]), cancellationToken);

    public Task RetryLaterAsync(string owner, long id, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken) =>
        ExecuteAsync("schedule an outbox retry", """
            UPDATE orderses_outbox
            SET attempts = attempts + 1, last_error = @error, next_attempt_at = @next, claimed_by = NULL, claimed_until = NULL
            WHERE id = @id AND claimed_by = @owner
            """, c => AddAll(c, [
                Parameter(c, "error", error), Time("next", nextAttemptAt), Parameter(c, "id", id), Parameter(c, "owner", owner)]),
            cancellationToken);

    public async Task DeadLetterAsync(string owner, long id, string error, CancellationToken cancellationToken)
    {
        void Bind(DbCommand c) => AddAll(c, [
            Parameter(c, "id", id), Parameter(c, "owner", owner), Parameter(c, "error", error), Time("now", _time.GetUtcNow())]);
        if (IsPostgres)
        {
            await ExecuteAsync("dead-letter an outbox message", """
                WITH moved AS (
                    DELETE FROM orderses_outbox WHERE id = @id AND claimed_by = @owner
                    RETURNING id, event_id, aggregate_id, sequence, global_position, created_at, attempts
                )
                INSERT INTO orderses_outbox_dead_letters
                    (id, event_id, aggregate_id, sequence, global_position, event_type, created_at, attempts, last_error, failed_at)
                SELECT m.id, m.event_id, m.aggregate_id, m.sequence, m.global_position, e.event_type, m.created_at, m.attempts + 1, @error, @now
                FROM moved m LEFT JOIN pyfly_event_store e ON e.event_id = m.event_id
                """, Bind, cancellationToken);
            return;
        }
        await ExecuteInTransactionAsync("dead-letter an outbox message", [
            """
            INSERT INTO orderses_outbox_dead_letters
                (id, event_id, aggregate_id, sequence, global_position, event_type, created_at, attempts, last_error, failed_at)
            SELECT m.id, m.event_id, m.aggregate_id, m.sequence, m.global_position, e.event_type, m.created_at, m.attempts + 1, @error, @now
            FROM orderses_outbox m LEFT JOIN pyfly_event_store e ON e.event_id = m.event_id
            WHERE m.id = @id AND m.claimed_by = @owner
            """,
            "DELETE FROM orderses_outbox WHERE id = @id AND claimed_by = @owner",
        ], Bind, cancellationToken);
    }

    public Task ReleaseAsync(string owner, IReadOnlyCollection<long> ids, CancellationToken cancellationToken) =>
        ids.Count == 0 ? Task.CompletedTask : ExecuteAsync("release outbox claims",
            $"UPDATE orderses_outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = @owner AND {IdsCondition}",
            c => AddAll(c, [Parameter(c, "owner", owner), IdsParameter(c, ids)]), cancellationToken);

    public Task<int> PruneDeliveredAsync(DateTimeOffset deliveredBefore, CancellationToken cancellationToken) =>
        ExecuteAsync("prune delivered outbox messages",
            "DELETE FROM orderses_outbox WHERE delivered_at IS NOT NULL AND delivered_at < @before",
            c => c.Parameters.Add(Time("before", deliveredBefore)), cancellationToken);

    public async Task<OutboxCounts> GetCountsAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = Command(connection, CountsSql);
            command.Parameters.Add(Time("now", _time.GetUtcNow()));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var parked = reader.GetInt64(3);
            return new OutboxCounts(reader.GetInt64(0) - parked, reader.GetInt64(1), reader.GetInt64(2), parked);
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "count outbox messages");
        }
    }

    public async Task<IReadOnlyList<OutboxDeadLetter>> GetDeadLettersAsync(int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = Command(connection, DeadLettersSql);
            command.Parameters.Add(Time("now", _time.GetUtcNow()));
            command.Parameters.Add(Parameter(command, "limit", limit));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var letters = new List<OutboxDeadLetter>();
            while (await reader.ReadAsync(cancellationToken))
            {
                letters.Add(new OutboxDeadLetter(
                    reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5),
                    reader.IsDBNull(6) ? null : reader.GetString(6), EventRowReader.AsUtc(reader.GetDateTime(7)), reader.GetInt64(8)));
            }
            return letters;
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "read outbox dead letters");
        }
    }

    public async Task<IReadOnlyList<OutboxSkippedMessage>> GetSkippedAsync(int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = Command(connection,
                $"SELECT {SkippedColumns} FROM orderses_outbox_skipped ORDER BY skipped_at DESC, id DESC LIMIT @limit");
            command.Parameters.Add(Parameter(command, "limit", limit));
            return await ReadSkippedAsync(command, cancellationToken);
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "read skipped outbox messages");
        }
    }

    public async Task<DeadLetterOutcome> RetryDeadLetterAsync(long id, CancellationToken cancellationToken = default)
    {
        void Bind(DbCommand c) => c.Parameters.Add(Parameter(c, "id", id));
        // Back under its old id, attempts reset: it is claimed before the later messages of its aggregate, which it
        // parked. One statement (or one IMMEDIATE transaction): of two concurrent calls, the second finds no row.
        int moved;
        if (IsPostgres)
        {
            moved = await ExecuteAsync("retry an outbox dead letter", $"""
                WITH moved AS (
                    DELETE FROM orderses_outbox_dead_letters d WHERE d.id = @id AND {NoEarlierDeadLetter}
                    RETURNING id, event_id, aggregate_id, sequence, global_position, created_at
                )
                INSERT INTO orderses_outbox (id, event_id, aggregate_id, sequence, global_position, created_at)
                SELECT id, event_id, aggregate_id, sequence, global_position, created_at FROM moved
                """, Bind, cancellationToken);
        }
        else
        {
            moved = await ExecuteInTransactionAsync("retry an outbox dead letter", [
                $"""
                INSERT INTO orderses_outbox (id, event_id, aggregate_id, sequence, global_position, created_at)
                SELECT id, event_id, aggregate_id, sequence, global_position, created_at FROM orderses_outbox_dead_letters d
                WHERE d.id = @id AND {NoEarlierDeadLetter}
                """,
                $"DELETE FROM orderses_outbox_dead_letters AS d WHERE d.id = @id AND {NoEarlierDeadLetter}",
            ], Bind, cancellationToken);
        }
        if (moved > 0)
        {
            OrdersEsTelemetry.RecordOutboxDeadLetterSettled(retried: true);
            return DeadLetterOutcome.Done;
        }
        if (await FindSkippedAsync(id, cancellationToken) is { } skipped) return new DeadLetterOutcome(DeadLetterResult.AlreadySkipped, skipped);
        var earlier = await ScalarAsync("find an earlier outbox dead letter", """
            SELECT e.id FROM orderses_outbox_dead_letters d
            JOIN orderses_outbox_dead_letters e ON e.aggregate_id = d.aggregate_id AND e.sequence < d.sequence
            WHERE d.id = @id ORDER BY e.sequence LIMIT 1
            """, Bind, cancellationToken);
        return earlier is null ? DeadLetterOutcome.NotFound : new DeadLetterOutcome(DeadLetterResult.EarlierDeadLetter, EarlierDeadLetterId: earlier);
    }

    public async Task<DeadLetterOutcome> SkipDeadLetterAsync(long id, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        void Bind(DbCommand c) => AddAll(c, [Parameter(c, "id", id), Parameter(c, "reason", reason), Time("now", _time.GetUtcNow())]);
        int moved;
        if (IsPostgres)
        {
            moved = await ExecuteAsync("skip an outbox dead letter", $"""
                WITH moved AS (
                    DELETE FROM orderses_outbox_dead_letters WHERE id = @id RETURNING {DeadLetterColumns}
                )
                INSERT INTO orderses_outbox_skipped ({DeadLetterColumns}, reason, skipped_at)
                SELECT {DeadLetterColumns}, @reason, @now FROM moved
                """, Bind, cancellationToken);
        }
        else
        {
            moved = await ExecuteInTransactionAsync("skip an outbox dead letter", [
                $"""
                INSERT INTO orderses_outbox_skipped ({DeadLetterColumns}, reason, skipped_at)
                SELECT {DeadLetterColumns}, @reason, @now FROM orderses_outbox_dead_letters WHERE id = @id
                """,
                "DELETE FROM orderses_outbox_dead_letters WHERE id = @id",
            ], Bind, cancellationToken);
        }
        var record = await FindSkippedAsync(id, cancellationToken);
        if (moved > 0)
        {
            OrdersEsTelemetry.RecordOutboxDeadLetterSettled(retried: false);
            return new DeadLetterOutcome(DeadLetterResult.Done, record);
        }
        return record is null ? DeadLetterOutcome.NotFound : new DeadLetterOutcome(DeadLetterResult.AlreadySkipped, record);
    }

    private async Task<OutboxSkippedMessage?> FindSkippedAsync(long id, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = Command(connection, $"SELECT {SkippedColumns} FROM orderses_outbox_skipped WHERE id = @id");
            command.Parameters.Add(Parameter(command, "id", id));
            return (await ReadSkippedAsync(command, cancellationToken)).SingleOrDefault();
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "read a skipped outbox message");
        }
    }

    private static async Task<IReadOnlyList<OutboxSkippedMessage>> ReadSkippedAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var skipped = new List<OutboxSkippedMessage>();
        while (await reader.ReadAsync(cancellationToken))
        {
            skipped.Add(new OutboxSkippedMessage(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetString(6),
                EventRowReader.AsUtc(reader.GetDateTime(7)), reader.GetString(8), EventRowReader.AsUtc(reader.GetDateTime(9))));
        }
        return skipped;
    }

    private async Task<long?> ScalarAsync(string operation, string sql, Action<DbCommand> bind, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = Command(connection, sql);
            bind(command);
            return await command.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt64(value, CultureInfo.InvariantCulture) : null;
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, operation);
        }
    }

    private string IdsCondition => IsPostgres ? "id = ANY(@ids)" : "id IN (SELECT value FROM json_each(@ids))";

    private DbParameter IdsParameter(DbCommand command, IReadOnlyCollection<long> ids) =>
        IsPostgres ? new NpgsqlParameter<long[]>("ids", ids.ToArray()) : Parameter(command, "ids", JsonIds(ids));

    private static string JsonIds(IEnumerable<long> ids)
    {
        var json = new StringBuilder("[");
        foreach (var id in ids) json.Append(json.Length > 1 ? "," : "").Append(id.ToString(CultureInfo.InvariantCulture));
        return json.Append(']').ToString();
    }

    private async Task<int> ExecuteAsync(string operation, string sql, Action<DbCommand> bind, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = Command(connection, sql);
            bind(command);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, operation);
        }
    }

    /// <summary>Runs the statements in one transaction; returns the rows the last one affected.</summary>
    private async Task<int> ExecuteInTransactionAsync(string operation, string[] statements, Action<DbCommand> bind, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var affected = 0;
            foreach (var sql in statements)
            {
                await using var command = Command(connection, sql, transaction);
                bind(command);
                affected = await command.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
            return affected;
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, operation);
        }
    }

    private static void AddAll(DbCommand command, DbParameter[] parameters) => command.Parameters.AddRange(parameters);

    private static DbCommand Command(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private static DbParameter Parameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@" + name;
        parameter.Value = value;
        return parameter;
    }

    private DbParameter Time(string name, DateTimeOffset value)
    {
        var parameter = database.TimestampParameter(value);
        parameter.ParameterName = "@" + name;
        return parameter;
    }

    private async Task<IReadOnlyList<OutboxMessage>> ReadMessagesAsync(DbDataReader reader, CancellationToken cancellationToken)
    {
        var messages = new List<OutboxMessage>();
        while (await reader.ReadAsync(cancellationToken))
        {
            StoredEventEnvelope? envelope = null;
            string? unreadable = null;
            try
            {
                // The body goes out as application/json: a payload another writer stored that is no JSON object cannot.
                envelope = reader.IsDBNull(5) ? null : _upcasters.Apply(EventRowReader.Read(reader, first: 5, objectPayload: true));
            }
            catch (EventDecodingException e)
            {
                envelope = null;
                unreadable = e.Message; // one malformed row must not hold back the batch: it goes to the dead letters
            }
            messages.Add(new OutboxMessage(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt32(4),
                envelope, unreadable));
        }
        return messages;
    }

    // The zone-less TIMESTAMP columns hold UTC.
}
