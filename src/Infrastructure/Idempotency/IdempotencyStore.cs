using System.Data.Common;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Idempotency;

/// <summary>The first response to a request carrying an <c>Idempotency-Key</c>, as replayed to its repeats.</summary>
public sealed record IdempotentResponse(int StatusCode, string Body, string? Location, string? ETag);

/// <summary>What <see cref="IdempotencyStore.ClaimAsync"/> found for a key.</summary>
public abstract record IdempotencyClaim
{
    private IdempotencyClaim()
    {
    }

    /// <summary>
    /// The caller owns the key under <paramref name="Token"/>: run the request with
    /// <see cref="IdempotencyStore.Completion"/> in its append, or <see cref="IdempotencyStore.ReleaseAsync"/> it.
    /// </summary>
    public sealed record Acquired(string Token) : IdempotencyClaim;

    /// <summary>An earlier request with this key and body finished: answer with its response.</summary>
    public sealed record Completed(IdempotentResponse Response) : IdempotencyClaim;

    /// <summary>The key was used with another request body.</summary>
    public sealed record BodyMismatch : IdempotencyClaim;

    /// <summary>The first request with this key is still running after the wait.</summary>
    public sealed record StillRunning : IdempotencyClaim;
}

/// <summary>Options of <see cref="IdempotencyStore"/>.</summary>
public sealed record IdempotencyOptions
{
    /// <summary>How long a key and its response are kept.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromHours(24);

    /// <summary>A claim unfinished after this long is taken to belong to a crashed request and may be taken over.</summary>
    public TimeSpan AbandonedAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a repeat waits for the first request with its key to finish.</summary>
    public TimeSpan WaitForFirst { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(25);
}

/// <summary>
/// Idempotency keys in <c>orderses_idempotency_keys</c>, scoped by tenant. Two requests racing with one key are
/// decided by the table's primary key: one inserts the claim and runs, the other waits for its stored response.
/// </summary>
public sealed class IdempotencyStore(EventStoreDatabase database, TimeProvider timeProvider, IdempotencyOptions? options = null)
{
    private readonly IdempotencyOptions _options = options ?? new IdempotencyOptions();
    private long _nextPruneTicks;

    /// <summary>Claims <paramref name="key"/> for this request, or reports what an earlier request with it left.</summary>
    public async Task<IdempotencyClaim> ClaimAsync(string? tenantId, string key, string requestHash, CancellationToken cancellationToken)
    {
        var deadline = timeProvider.GetUtcNow() + _options.WaitForFirst;
        try
        {
            await PruneExpiredAsync(cancellationToken);
            while (true)
            {
                var token = Guid.NewGuid().ToString("N");
                if (await TryInsertClaimAsync(tenantId, key, requestHash, token, cancellationToken))
                    return new IdempotencyClaim.Acquired(token);
                var row = await FindAsync(tenantId, key, cancellationToken);
                if (row is null) continue; // the owner released it (its request failed): claim again
                if (!string.Equals(row.Value.Hash, requestHash, StringComparison.Ordinal))
                    return new IdempotencyClaim.BodyMismatch();
                if (row.Value.Response is { } response)
                    return new IdempotencyClaim.Completed(response);
                if (timeProvider.GetUtcNow() >= deadline)
                    return new IdempotencyClaim.StillRunning();
                await Task.Delay(_options.PollInterval, timeProvider, cancellationToken);
            }
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "claim an idempotency key");
        }
    }

    /// <summary>
    /// The write that stores <paramref name="response"/> as the key's answer, to pass with the request's append
    /// (<see cref="EventContext.Participant"/>): the answer then commits with the events or not at all, so a crash
    /// between them cannot leave events whose key a retry would run again. When the claim is no longer
    /// <paramref name="token"/>'s (taken over as abandoned), the append is refused with <see cref="IdempotencyClaimLostException"/>.
    /// </summary>
    public IdempotentCompletion Completion(string? tenantId, string key, string token, IdempotentResponse response) =>
        new(this, tenantId, key, token, response);

    /// <summary>Stores the answer outside an append: for stores without transactions, where <see cref="IdempotentCompletion.Written"/> stays false.</summary>
    public async Task CompleteAsync(IdempotentCompletion completion, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await CompleteAsync(connection, null, completion, cancellationToken);
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "store an idempotent response");
        }
    }

    internal static async Task CompleteAsync(DbConnection connection, DbTransaction? transaction, IdempotentCompletion completion, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, """
            UPDATE orderses_idempotency_keys
            SET status_code = @status, response_body = @body, response_location = @location, response_etag = @etag
            WHERE tenant_key = @tenant AND idempotency_key = @key AND claim_token = @token AND status_code IS NULL
            """, completion.TenantId, completion.Key);
        command.Transaction = transaction;
        Add(command, "@token", completion.Token);
        Add(command, "@status", completion.Response.StatusCode);
        Add(command, "@body", completion.Response.Body);
        Add(command, "@location", completion.Response.Location);
        Add(command, "@etag", completion.Response.ETag);
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1) throw new IdempotencyClaimLostException(completion.Key);
    }

    /// <summary>Gives the key up after the request failed without writing, so a retry may run it again.</summary>
    public async Task ReleaseAsync(string? tenantId, string key, string token, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            await using var command = Command(connection, """
                DELETE FROM orderses_idempotency_keys
                WHERE tenant_key = @tenant AND idempotency_key = @key AND claim_token = @token AND status_code IS NULL
                """, tenantId, key);
            Add(command, "@token", token);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "release an idempotency key");
        }
    }

    private async Task<bool> TryInsertClaimAsync(string? tenantId, string key, string requestHash, string token, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        // An expired key, or a claim whose owner evidently died, no longer blocks the key.
        await using (var expire = Command(connection, """
            DELETE FROM orderses_idempotency_keys
            WHERE tenant_key = @tenant AND idempotency_key = @key
              AND (expires_at < @now OR (status_code IS NULL AND created_at < @abandoned))
            """, tenantId, key))
        {
            expire.Parameters.Add(Timestamp("@now", now));
            expire.Parameters.Add(Timestamp("@abandoned", now - _options.AbandonedAfter));
            await expire.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var insert = Command(connection, """
            INSERT INTO orderses_idempotency_keys (tenant_key, idempotency_key, request_hash, claim_token, created_at, expires_at)
            VALUES (@tenant, @key, @hash, @token, @now, @expires)
            ON CONFLICT (tenant_key, idempotency_key) DO NOTHING
            """, tenantId, key);
        Add(insert, "@hash", requestHash);
        Add(insert, "@token", token);
        insert.Parameters.Add(Timestamp("@now", now));
        insert.Parameters.Add(Timestamp("@expires", now + _options.Retention));
        return await insert.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private async Task<(string Hash, IdempotentResponse? Response)?> FindAsync(string? tenantId, string key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, """
            SELECT request_hash, status_code, response_body, response_location, response_etag
            FROM orderses_idempotency_keys WHERE tenant_key = @tenant AND idempotency_key = @key
            """, tenantId, key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        var response = reader.IsDBNull(1) ? null : new IdempotentResponse(
            reader.GetInt32(1),
            reader.IsDBNull(2) ? "" : reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4));
        return (reader.GetString(0), response);
    }

    private async Task PruneExpiredAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var due = Interlocked.Read(ref _nextPruneTicks);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextPruneTicks, (now + TimeSpan.FromHours(1)).UtcTicks, due) != due)
            return;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM orderses_idempotency_keys WHERE expires_at < @now";
        command.Parameters.Add(Timestamp("@now", now));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static DbCommand Command(DbConnection connection, string sql, string? tenantId, string key)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        Add(command, "@tenant", tenantId ?? "");
        Add(command, "@key", key);
        return command;
    }

    private static void Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    private DbParameter Timestamp(string name, DateTimeOffset value)
    {
        var parameter = database.TimestampParameter(value);
        parameter.ParameterName = name;
        return parameter;
    }
}

/// <summary>The answer of an idempotency key, written in the transaction of the request's append (see <see cref="IdempotencyStore.Completion"/>).</summary>
public sealed class IdempotentCompletion : IAppendParticipant
{
    internal IdempotentCompletion(IdempotencyStore store, string? tenantId, string key, string token, IdempotentResponse response)
    {
        Store = store;
        TenantId = tenantId;
        Key = key;
        Token = token;
        Response = response;
    }

    internal IdempotencyStore Store { get; }
    internal string? TenantId { get; }
    internal string Key { get; }
    internal string Token { get; }
    public IdempotentResponse Response { get; }

    public bool Written { get; private set; }

    public async Task WriteAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await IdempotencyStore.CompleteAsync(connection, transaction, this, cancellationToken);
        Written = true;
    }
}

/// <summary>
/// The key's claim was taken over as abandoned while its request still ran, so this request's append was refused:
/// the other request's answer is the key's (a 409; a retry replays it).
/// </summary>
public sealed class IdempotencyClaimLostException(string key)
    : Exception($"The claim on Idempotency-Key '{key}' was taken over by a later request; retry to get its answer.");
