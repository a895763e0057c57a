using System.Collections.Concurrent;
using System.Data.Common;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Projections;

/// <summary>An event an operator parked for one projection: it is never applied by that projection, which moves on past it.</summary>
/// <param name="Error">The error the projection failed with when it was parked, when this instance knew it.</param>
/// <param name="Reason">Why, as the operator wrote it.</param>
public sealed record SkippedEvent(
    string Projection, string EventId, GlobalCheckpoint Checkpoint, string EventType, string AggregateId,
    string? Error, string Reason, DateTimeOffset SkippedAt);

/// <summary>What a request to park an event came to.</summary>
public enum SkipResult
{
    /// <summary>Parked now; the projection moves on past it.</summary>
    Skipped,
    /// <summary>It was parked before; nothing changed.</summary>
    AlreadySkipped,
    /// <summary>The projection is not held at that event (not failing, or failing on another one): nothing parked.</summary>
    NotHeld,
}

/// <summary>The result of <see cref="ProjectionRunner.SkipAsync"/>: the parked event, or why nothing was parked.</summary>
public sealed record SkipOutcome(SkipResult Result, SkippedEvent? Skipped, string? Refusal);

/// <summary>
/// The parked events of every projection (<c>orderses_projection_skips</c> in the event database, so every replica's
/// runner sees what an operator parked through any replica).
/// </summary>
public interface IProjectionSkipStore
{
    /// <summary>The ids of the events parked for <paramref name="projection"/>.</summary>
    Task<IReadOnlySet<string>> LoadEventIdsAsync(string projection, CancellationToken cancellationToken);

    /// <summary>The parked events of <paramref name="projection"/>, most recent first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<SkippedEvent>> ListAsync(string projection, int limit, CancellationToken cancellationToken);

    /// <summary>The parked event, or null when <paramref name="eventId"/> is not parked for <paramref name="projection"/>.</summary>
    Task<SkippedEvent?> FindAsync(string projection, string eventId, CancellationToken cancellationToken);

    /// <summary>Parks the event; false (nothing changed) when it was already parked for that projection.</summary>
    Task<bool> AddAsync(SkippedEvent skipped, CancellationToken cancellationToken);
}

/// <summary>Parked events in process memory, for projections whose checkpoints live there too.</summary>
public sealed class InMemoryProjectionSkipStore : IProjectionSkipStore
{
    private readonly ConcurrentDictionary<(string Projection, string EventId), SkippedEvent> _skipped = new();

    public Task<IReadOnlySet<string>> LoadEventIdsAsync(string projection, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlySet<string>>(_skipped.Keys.Where(k => k.Projection == projection).Select(k => k.EventId).ToHashSet(StringComparer.Ordinal));

    public Task<IReadOnlyList<SkippedEvent>> ListAsync(string projection, int limit, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<SkippedEvent>>(_skipped.Values.Where(s => s.Projection == projection)
            .OrderByDescending(s => s.SkippedAt).ThenByDescending(s => s.Checkpoint).Take(limit).ToArray());

    public Task<SkippedEvent?> FindAsync(string projection, string eventId, CancellationToken cancellationToken) =>
        Task.FromResult(_skipped.GetValueOrDefault((projection, eventId)));

    public Task<bool> AddAsync(SkippedEvent skipped, CancellationToken cancellationToken) =>
        Task.FromResult(_skipped.TryAdd((skipped.Projection, skipped.EventId), skipped));
}

/// <summary>Parked events in <c>orderses_projection_skips</c>; the schema comes from <see cref="DatabaseSchema"/>.</summary>
public sealed class EfCoreProjectionSkipStore(EventStoreDatabase database) : IProjectionSkipStore
{
    private const string Columns = "projection, event_id, commit_id, position, event_type, aggregate_id, error, reason, skipped_at";

    public async Task<IReadOnlySet<string>> LoadEventIdsAsync(string projection, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, "SELECT event_id FROM orderses_projection_skips WHERE projection = @projection",
            ("@projection", projection));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken)) ids.Add(reader.GetString(0));
        return ids;
    }

    public async Task<IReadOnlyList<SkippedEvent>> ListAsync(string projection, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection,
            $"SELECT {Columns} FROM orderses_projection_skips WHERE projection = @projection ORDER BY skipped_at DESC, commit_id DESC, position DESC LIMIT @limit",
            ("@projection", projection), ("@limit", limit));
        return await ReadAllAsync(command, cancellationToken);
    }

    public async Task<SkippedEvent?> FindAsync(string projection, string eventId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection,
            $"SELECT {Columns} FROM orderses_projection_skips WHERE projection = @projection AND event_id = @eventId",
            ("@projection", projection), ("@eventId", eventId));
        return (await ReadAllAsync(command, cancellationToken)).SingleOrDefault();
    }

    public async Task<bool> AddAsync(SkippedEvent skipped, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, $"""
            INSERT INTO orderses_projection_skips ({Columns})
            VALUES (@projection, @eventId, @commitId, @position, @eventType, @aggregateId, @error, @reason, @skippedAt)
            ON CONFLICT (projection, event_id) DO NOTHING
            """,
            ("@projection", skipped.Projection), ("@eventId", skipped.EventId), ("@commitId", skipped.Checkpoint.CommitId),
            ("@position", skipped.Checkpoint.Position), ("@eventType", skipped.EventType), ("@aggregateId", skipped.AggregateId),
            ("@error", (object?)skipped.Error ?? DBNull.Value), ("@reason", skipped.Reason));
        var at = database.TimestampParameter(skipped.SkippedAt);
        at.ParameterName = "@skippedAt";
        command.Parameters.Add(at);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static DbCommand Command(DbConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    private static async Task<IReadOnlyList<SkippedEvent>> ReadAllAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<SkippedEvent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new SkippedEvent(
                reader.GetString(0), reader.GetString(1), new GlobalCheckpoint(reader.GetInt64(2), reader.GetInt64(3)),
                reader.GetString(4), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetString(7),
                EventRowReader.AsUtc(reader.GetDateTime(8))));
        }
        return rows;
    }
}
