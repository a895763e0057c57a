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
/// <para>A claim is one row per aggregate in <c>orderses_outbox_claims</c>: who holds it, until when, and which of the
/// aggregate's messages. While it lasts, no message of that aggregate is claimed by anyone; a lapsed one is taken over
/// (overwritten) by the next claim that finds the aggregate's messages due. Settling a message (delivered, retry
/// scheduled, dead-lettered, given back) takes it out of its claim, and the claim goes once none is left. The
/// messages' own rows are written once, when delivered: claiming them wrote each row (and five index entries) again,
/// which measured half of a 500-message claim's time.</para>
/// <para>Claims are serialized, and so are the other changes of the claims that depend on who holds them (renewing,
/// giving back, retrying later, dead-lettering): on PostgreSQL by a transaction-scoped advisory lock taken in the
/// same implicit transaction as the statement, on SQLite by <c>BEGIN IMMEDIATE</c>. Without that, a claim taking over
/// a lapsed claim could race its old owner's settling of the same messages. Marking delivered needs no lock: a
/// delivery is a fact, whoever holds the claim. These statements are short; publishing, the slow part, runs outside
/// any transaction.</para>
/// </remarks>
public sealed class EfCoreOutboxStore(EventStoreDatabase database, TimeProvider? timeProvider = null, UpcasterChain? upcasters = null)
    : IOutboxStore, IOutboxMonitor
{
    private const long ClaimLockKey = 7243019472311;

    // A message is due when it is undelivered and its retry time has come, nobody holds a claim on its aggregate, no
    // earlier message of its aggregate waits for a retry, and no earlier one of its aggregate is a dead letter (it is
    // parked until an operator retries or skips that). Earlier due messages of the aggregate have lower ids, so ORDER
    // BY id claims them in the same batch or before. Each check is one probe of a primary key or a small index.
    // On PostgreSQL the retry check leaves out "p.delivered_at IS NULL": a delivered row never holds a future retry
    // time (delivery clears it), and without it the only index the check can use is orderses_outbox_retrying_idx,
    // whatever the statistics say (see OutboxSchema). SQLite keeps it for its partial index.
    private static string DueCondition(bool postgres) => $"""
        o.delivered_at IS NULL
          AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= @now)
          AND NOT EXISTS (
              SELECT 1 FROM orderses_outbox_claims c WHERE c.aggregate_id = o.aggregate_id AND c.claimed_until > @now)
          AND NOT EXISTS (
              SELECT 1 FROM orderses_outbox p
              WHERE p.aggregate_id = o.aggregate_id AND p.sequence < o.sequence{(postgres ? "" : " AND p.delivered_at IS NULL")}
                AND p.next_attempt_at > @now)
          AND NOT EXISTS (
              SELECT 1 FROM orderses_outbox_dead_letters d
              WHERE d.aggregate_id = o.aggregate_id AND d.sequence < o.sequence)
        """;

    // The message o is in a claim of its aggregate that has not lapsed.
    private static string ClaimedNow(bool postgres) => $"""
        EXISTS (
            SELECT 1 FROM orderses_outbox_claims c
            WHERE c.aggregate_id = o.aggregate_id AND c.claimed_until > @now AND {InClaim(postgres)})
        """;

    // The message o is in @owner's claim of its aggregate (lapsed or not: until another instance takes it over).
    private static string HeldBy(bool postgres) => $"""
        EXISTS (
            SELECT 1 FROM orderses_outbox_claims c
            WHERE c.aggregate_id = o.aggregate_id AND c.claimed_by = @owner AND {InClaim(postgres)})
        """;

    private static string InClaim(bool postgres) =>
        postgres ? "o.id = ANY(c.message_ids)" : "o.id IN (SELECT value FROM json_each(c.message_ids))";

    // Undelivered, not claimed now, after a dead letter of its aggregate.
    private static string ParkedCondition(bool postgres) => $"""
        o.delivered_at IS NULL
          AND NOT {ClaimedNow(postgres)}
          AND EXISTS (
              SELECT 1 FROM orderses_outbox_dead_letters d
              WHERE d.aggregate_id = o.aggregate_id AND d.sequence < o.sequence)
        """;

    private static readonly string EventColumns = EventRowReader.ColumnsOf("e");

    // The candidates are read once (a CTE referenced twice is materialized): the claims written are those returned.
    internal static readonly string PostgresClaimSql = $"""
        WITH candidates AS (
            SELECT o.id, o.event_id, o.aggregate_id, o.sequence, o.attempts FROM orderses_outbox o
            WHERE {DueCondition(postgres: true)}
            ORDER BY o.id
            LIMIT @limit
        ), claimed AS (
            INSERT INTO orderses_outbox_claims (aggregate_id, claimed_by, claimed_until, message_ids)
            SELECT aggregate_id, @owner, @until, array_agg(id ORDER BY id) FROM candidates GROUP BY aggregate_id
            ON CONFLICT (aggregate_id) DO UPDATE
            SET claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until, message_ids = EXCLUDED.message_ids
        )
        SELECT o.id, o.event_id, o.aggregate_id, o.sequence, o.attempts, {EventColumns}
        FROM candidates o LEFT JOIN pyfly_event_store e ON e.event_id = o.event_id
        ORDER BY o.id
        """;

    private static readonly string SqliteSelectDueSql = $"""
        SELECT o.id, o.event_id, o.aggregate_id, o.sequence, o.attempts, {EventColumns}
        FROM orderses_outbox o LEFT JOIN pyfly_event_store e ON e.event_id = o.event_id
        WHERE {DueCondition(postgres: false)}
        ORDER BY o.id
        LIMIT @limit
        """;

    // "WHERE true": SQLite's parser needs it between a SELECT and ON CONFLICT.
    private const string SqliteWriteClaimsSql = """
        INSERT INTO orderses_outbox_claims (aggregate_id, claimed_by, claimed_until, message_ids)
        SELECT aggregate_id, @owner, @until, json_group_array(id) FROM orderses_outbox
        WHERE id IN (SELECT value FROM json_each(@ids)) GROUP BY aggregate_id
        ON CONFLICT (aggregate_id) DO UPDATE
        SET claimed_by = excluded.claimed_by, claimed_until = excluded.claimed_until, message_ids = excluded.message_ids
        """;

    /// <summary>
    /// PostgreSQL: CTEs that take the messages <c>@ids</c> out of their aggregates' claims (only <c>@owner</c>'s when
    /// <paramref name="ownerOnly"/>), deleting a claim once none of its messages is left. Their aggregates are read
    /// from the statement's snapshot, so a CTE of the same statement may delete the rows.
    /// </summary>
    private static string PostgresSettleClaims(bool ownerOnly)
    {
        var owner = ownerOnly ? " AND c.claimed_by = @owner" : "";
        return $"""
            settled AS (SELECT DISTINCT aggregate_id FROM orderses_outbox WHERE id = ANY(@ids)),
            ended AS (
                DELETE FROM orderses_outbox_claims c USING settled s
                WHERE c.aggregate_id = s.aggregate_id{owner} AND c.message_ids <@ @ids),
            shrunk AS (
                UPDATE orderses_outbox_claims c SET message_ids = ARRAY(SELECT m FROM unnest(c.message_ids) m WHERE m <> ALL(@ids))
                FROM settled s
                WHERE c.aggregate_id = s.aggregate_id{owner} AND c.message_ids && @ids AND NOT c.message_ids <@ @ids)
            """;
    }

    /// <summary>SQLite: the same as <see cref="PostgresSettleClaims"/>, as two statements run before the messages' rows change.</summary>
    private static string[] SqliteSettleClaims(bool ownerOnly)
    {
        var claimsOfIds = "aggregate_id IN (SELECT aggregate_id FROM orderses_outbox WHERE id IN (SELECT value FROM json_each(@ids)))"
            + (ownerOnly ? " AND claimed_by = @owner" : "");
        const string others = "m.value NOT IN (SELECT value FROM json_each(@ids))";
        return
        [
            $"DELETE FROM orderses_outbox_claims WHERE {claimsOfIds} AND NOT EXISTS (SELECT 1 FROM json_each(message_ids) m WHERE {others})",
            $"""
            UPDATE orderses_outbox_claims SET message_ids = (SELECT json_group_array(m.value) FROM json_each(message_ids) m WHERE {others})
            WHERE {claimsOfIds}
            """,
        ];
    }

    private static string CountsSql(bool postgres) => $"""
        SELECT (SELECT COUNT(*) FROM orderses_outbox o WHERE o.delivered_at IS NULL AND NOT {ClaimedNow(postgres)}),
               (SELECT COUNT(*) FROM orderses_outbox o WHERE o.delivered_at IS NULL AND {ClaimedNow(postgres)}),
               (SELECT COUNT(*) FROM orderses_outbox_dead_letters),
               (SELECT COUNT(*) FROM orderses_outbox o WHERE {ParkedCondition(postgres)})
        """;

    private static string DeadLettersSql(bool postgres) => $"""
        SELECT d.id, d.event_id, d.aggregate_id, d.sequence, d.event_type, d.attempts, d.last_error, d.failed_at,
               (SELECT COUNT(*) FROM orderses_outbox o
                WHERE o.aggregate_id = d.aggregate_id AND o.sequence > d.sequence AND o.delivered_at IS NULL
                  AND NOT {ClaimedNow(postgres)})
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
        await using var batch = LockedBatch(connection, PostgresClaimSql, c => AddAll(c, [
            Time("now", now), new NpgsqlParameter<int>("limit", batchSize), new NpgsqlParameter<string>("owner", owner), Time("until", until)]));
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
            await using var write = Command(connection, SqliteWriteClaimsSql, transaction);
            write.Parameters.Add(Parameter(write, "owner", owner));
            write.Parameters.Add(Time("until", until));
            write.Parameters.Add(Parameter(write, "ids", JsonIds(messages.Select(m => m.Id))));
            await write.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return messages;
    }

    // Only claims still this owner's: once a lease ran out and another instance took the aggregate over, it is theirs.
    public async Task<int> RenewClaimsAsync(string owner, IReadOnlyCollection<long> ids, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (ids.Count == 0) return 0;
        void Bind(DbCommand c) => AddAll(c, [Time("until", _time.GetUtcNow() + lease), Parameter(c, "owner", owner), IdsParameter(c, ids)]);
        if (IsPostgres)
        {
            return (int)(await ScalarLockedAsync("renew outbox claims", """
                WITH renewed AS (
                    UPDATE orderses_outbox_claims c SET claimed_until = @until
                    WHERE c.claimed_by = @owner
                      AND c.aggregate_id IN (SELECT aggregate_id FROM orderses_outbox WHERE id = ANY(@ids))
                    RETURNING c.message_ids)
                SELECT count(*) FROM renewed r, unnest(r.message_ids) m WHERE m = ANY(@ids)
                """, Bind, cancellationToken) ?? 0);
        }
        return await ExecuteInTransactionAsync("renew outbox claims", [
            """
            UPDATE orderses_outbox_claims SET claimed_until = @until
            WHERE claimed_by = @owner
              AND aggregate_id IN (SELECT aggregate_id FROM orderses_outbox WHERE id IN (SELECT value FROM json_each(@ids)))
            """,
            """
            SELECT count(*) FROM orderses_outbox_claims c, json_each(c.message_ids) m
            WHERE c.claimed_by = @owner AND m.value IN (SELECT value FROM json_each(@ids))
            """,
        ], Bind, cancellationToken, scalarLast: true);
    }

    public Task MarkDeliveredAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0) return Task.CompletedTask;
        void Bind(DbCommand c) => AddAll(c, [Time("now", _time.GetUtcNow()), IdsParameter(c, ids)]);
        const string mark = "UPDATE orderses_outbox SET delivered_at = @now, next_attempt_at = NULL, last_error = NULL WHERE ";
        const string operation = "mark outbox messages delivered";
        return IsPostgres
            ? ExecuteAsync(operation, $"WITH {PostgresSettleClaims(ownerOnly: false)}\n{mark}{IdsCondition}", Bind, cancellationToken)
            : ExecuteInTransactionAsync(operation, [.. SqliteSettleClaims(ownerOnly: false), mark + IdsCondition], Bind, cancellationToken);
    }

    public Task RetryLaterAsync(string owner, long id, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken)
    {
        void Bind(DbCommand c) => AddAll(c, [
            Parameter(c, "error", error), Time("next", nextAttemptAt), Parameter(c, "id", id), Parameter(c, "owner", owner), IdsParameter(c, [id])]);
        const string operation = "schedule an outbox retry";
        if (IsPostgres)
        {
            return ExecuteLockedAsync(operation, $"""
                WITH retried AS (
                    UPDATE orderses_outbox o SET attempts = attempts + 1, last_error = @error, next_attempt_at = @next
                    WHERE o.id = @id AND {HeldBy(postgres: true)}
                    RETURNING o.id),
                {PostgresSettleClaims(ownerOnly: true)}
                SELECT count(*) FROM retried
                """, Bind, cancellationToken);
        }
        // The retry is written first, while the claim still says who holds the message.
        return ExecuteInTransactionAsync(operation, [
            $"""
            UPDATE orderses_outbox AS o SET attempts = attempts + 1, last_error = @error, next_attempt_at = @next
            WHERE o.id = @id AND {HeldBy(postgres: false)}
            """,
            .. SqliteSettleClaims(ownerOnly: true),
        ], Bind, cancellationToken);
    }

    public Task DeadLetterAsync(string owner, long id, string error, CancellationToken cancellationToken)
    {
        void Bind(DbCommand c) => AddAll(c, [
            Parameter(c, "id", id), Parameter(c, "owner", owner), Parameter(c, "error", error), Time("now", _time.GetUtcNow()), IdsParameter(c, [id])]);
        const string operation = "dead-letter an outbox message";
        if (IsPostgres)
        {
            return ExecuteLockedAsync(operation, $"""
                WITH moved AS (
                    DELETE FROM orderses_outbox o WHERE o.id = @id AND {HeldBy(postgres: true)}
                    RETURNING id, event_id, aggregate_id, sequence, global_position, created_at, attempts
                ),
                {PostgresSettleClaims(ownerOnly: true)}
                INSERT INTO orderses_outbox_dead_letters
                    (id, event_id, aggregate_id, sequence, global_position, event_type, created_at, attempts, last_error, failed_at)
                SELECT m.id, m.event_id, m.aggregate_id, m.sequence, m.global_position, e.event_type, m.created_at, m.attempts + 1, @error, @now
                FROM moved m LEFT JOIN pyfly_event_store e ON e.event_id = m.event_id
                """, Bind, cancellationToken);
        }
        // Copied while the claim still says who holds it; the claim is settled while the row still names its aggregate.
        return ExecuteInTransactionAsync(operation, [
            $"""
            INSERT INTO orderses_outbox_dead_letters
                (id, event_id, aggregate_id, sequence, global_position, event_type, created_at, attempts, last_error, failed_at)
            SELECT o.id, o.event_id, o.aggregate_id, o.sequence, o.global_position, e.event_type, o.created_at, o.attempts + 1, @error, @now
            FROM orderses_outbox o LEFT JOIN pyfly_event_store e ON e.event_id = o.event_id
            WHERE o.id = @id AND {HeldBy(postgres: false)}
            """,
            .. SqliteSettleClaims(ownerOnly: true),
            "DELETE FROM orderses_outbox WHERE id = @id AND EXISTS (SELECT 1 FROM orderses_outbox_dead_letters d WHERE d.id = @id)",
        ], Bind, cancellationToken);
    }

    public Task ReleaseAsync(string owner, IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0) return Task.CompletedTask;
        void Bind(DbCommand c) => AddAll(c, [Parameter(c, "owner", owner), IdsParameter(c, ids)]);
        const string operation = "release outbox claims";
        return IsPostgres
            ? ExecuteLockedAsync(operation, $"WITH {PostgresSettleClaims(ownerOnly: true)}\nSELECT 1", Bind, cancellationToken)
            : ExecuteInTransactionAsync(operation, SqliteSettleClaims(ownerOnly: true), Bind, cancellationToken);
    }

    // Claims that lapsed that long ago belong to instances that are gone, whose messages were taken over or settled.
    public Task<int> PruneDeliveredAsync(DateTimeOffset deliveredBefore, CancellationToken cancellationToken) =>
        ExecuteInTransactionAsync("prune delivered outbox messages", [
            "DELETE FROM orderses_outbox_claims WHERE claimed_until < @before",
            "DELETE FROM orderses_outbox WHERE delivered_at IS NOT NULL AND delivered_at < @before",
        ], c => c.Parameters.Add(Time("before", deliveredBefore)), cancellationToken);

    public async Task<OutboxCounts> GetCountsAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = Command(connection, CountsSql(IsPostgres));
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
            await using var command = Command(connection, DeadLettersSql(IsPostgres));
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

    /// <summary>
    /// Runs the statements in one transaction (on SQLite an IMMEDIATE one: one writer at a time); returns the rows the
    /// last one affected, or with <paramref name="scalarLast"/> the value it selects.
    /// </summary>
    private async Task<int> ExecuteInTransactionAsync(string operation, string[] statements, Action<DbCommand> bind, CancellationToken cancellationToken,
        bool scalarLast = false)
    {
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var affected = 0;
            for (var i = 0; i < statements.Length; i++)
            {
                await using var command = Command(connection, statements[i], transaction);
                bind(command);
                affected = scalarLast && i == statements.Length - 1
                    ? Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture)
                    : await command.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
            return affected;
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, operation);
        }
    }

    /// <summary>
    /// PostgreSQL: the statement after the claims' advisory lock, in one round trip and one implicit transaction, so the
    /// lock is held until the statement commits.
    /// </summary>
    private static NpgsqlBatch LockedBatch(NpgsqlConnection connection, string sql, Action<DbCommand> bind)
    {
        var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT pg_advisory_xact_lock({ClaimLockKey})"));
        // The parameters are bound through a command, then moved to the batch's: one Bind for both kinds.
        using var template = new NpgsqlCommand();
        bind(template);
        var statement = new NpgsqlBatchCommand(sql);
        foreach (var parameter in template.Parameters.ToArray())
        {
            template.Parameters.Remove(parameter);
            statement.Parameters.Add(parameter);
        }
        batch.BatchCommands.Add(statement);
        return batch;
    }

    private async Task<int> ExecuteLockedAsync(string operation, string sql, Action<DbCommand> bind, CancellationToken cancellationToken) =>
        (int)(await ScalarLockedAsync(operation, sql, bind, cancellationToken) ?? 0);

    /// <summary>PostgreSQL: runs the statement under the claims' lock (<see cref="LockedBatch"/>); returns the value it selects, if any.</summary>
    private async Task<long?> ScalarLockedAsync(string operation, string sql, Action<DbCommand> bind, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = (NpgsqlConnection)await database.OpenConnectionAsync(cancellationToken);
            await using var batch = LockedBatch(connection, sql, bind);
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) && !reader.IsDBNull(0)
                ? Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture)
                : null;
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
