using System.Data.Common;
using System.Globalization;
using OrdersEs.Infrastructure.Configuration;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>Where a generation of a read model stands.</summary>
public enum GenerationState
{
    /// <summary>Being built from the first event into its own table while another generation serves.</summary>
    Building,

    /// <summary>The one generation queries read: the read model's view selects from its table.</summary>
    Serving,

    /// <summary>Served before the current one; its table is dropped once the grace period is over.</summary>
    Retired,

    /// <summary>A build given up (a newer build or version replaced it): its table is dropped at once.</summary>
    Abandoned,

    /// <summary>Retired and gone: its table and checkpoint were dropped.</summary>
    Dropped,
}

/// <summary>
/// One generation of a read model: its own table <c>{read model}_g{generation}</c> and checkpoint
/// <c>{read model}@{generation}</c>, built by the read model's <see cref="Version"/>.
/// </summary>
public sealed record ReadModelGeneration(
    string ReadModel, int Generation, int Version, GenerationState State, string Reason,
    DateTimeOffset CreatedAt, DateTimeOffset? SwitchedAt, DateTimeOffset? RetiredAt)
{
    public string Table => ReadModelGenerations.TableOf(ReadModel, Generation);

    public string CheckpointName => ReadModelGenerations.CheckpointOf(ReadModel, Generation);
}

/// <summary>
/// The generations of the read models in <c>orderses_read_models</c>, and the only code that moves them: each change
/// (start a build, switch, give up, drop) is one transaction under a per-read-model lock, so replicas never race. The
/// read model's name is a view over the serving generation's table; a switch replaces that view in the same transaction
/// that marks the build serving, so a query reads either the old generation or the new one, whole, never a mix.
/// </summary>
public sealed class ReadModelGenerations(EventStoreDatabase database, TimeProvider timeProvider)
{
    /// <summary>Checkpoint value of a generation that no longer serves: no compare-and-set from a real checkpoint matches it.</summary>
    private const long RetiredCheckpoint = -1;

    public static string TableOf(string readModel, int generation) => $"{readModel}_g{generation.ToString(CultureInfo.InvariantCulture)}";

    public static string CheckpointOf(string readModel, int generation) => $"{readModel}@{generation.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Every generation of <paramref name="readModel"/>, oldest first.</summary>
    public async Task<IReadOnlyList<ReadModelGeneration>> ListAsync(string readModel, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await ListAsync(connection, null, readModel, cancellationToken);
    }

    /// <summary>The generation queries read now.</summary>
    public async Task<ReadModelGeneration> ServingAsync(string readModel, CancellationToken cancellationToken) =>
        (await ListAsync(readModel, cancellationToken)).Single(g => g.State == GenerationState.Serving);

    /// <summary>
    /// Starts building a new generation of <paramref name="schema"/> at its declared version, giving up any build still
    /// under way (a rebuild asked for again starts over). The serving generation keeps serving meanwhile.
    /// </summary>
    public async Task<ReadModelGeneration> StartBuildAsync(IReadModelSchema schema, string reason, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await BeginLockedAsync(connection, schema.Table, cancellationToken);
        var generations = await ListAsync(connection, transaction, schema.Table, cancellationToken);
        var abandoned = generations.Where(g => g.State == GenerationState.Building).ToArray();
        foreach (var building in abandoned)
            await DropAsync(connection, transaction, building, GenerationState.Abandoned, cancellationToken);
        var started = await CreateAsync(connection, transaction, schema, NextGeneration(generations), GenerationState.Building, reason, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        foreach (var building in abandoned) database.ForgetGeneration(building);
        return started;
    }

    /// <summary>
    /// Makes the build <paramref name="generation"/> serve: the view switches to its table and the generation that served
    /// is retired (its checkpoint can no longer advance, so a runner still on it reloads). False when it is no longer
    /// building (given up, or switched by another replica).
    /// </summary>
    public async Task<bool> SwitchAsync(string readModel, int generation, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await BeginLockedAsync(connection, readModel, cancellationToken);
        var generations = await ListAsync(connection, transaction, readModel, cancellationToken);
        if (generations.SingleOrDefault(g => g.Generation == generation) is not { State: GenerationState.Building } build) return false;
        var now = timeProvider.GetUtcNow();
        foreach (var serving in generations.Where(g => g.State == GenerationState.Serving))
        {
            await SetStateAsync(connection, transaction, serving, GenerationState.Retired, "retired_at", now, cancellationToken);
            await ExecuteAsync(connection, transaction,
                "UPDATE orderses_projection_checkpoints SET commit_id = @p0, position = @p0 WHERE name = @p1",
                cancellationToken, RetiredCheckpoint, serving.CheckpointName);
        }
        await SetStateAsync(connection, transaction, build, GenerationState.Serving, "switched_at", now, cancellationToken);
        await ExecuteAsync(connection, transaction, $"DROP VIEW IF EXISTS {readModel}", cancellationToken);
        await ExecuteAsync(connection, transaction, ViewOver(build), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Drops the tables of generations retired at least <paramref name="grace"/> ago; returns how many.</summary>
    public async Task<int> DropRetiredAsync(string readModel, TimeSpan grace, CancellationToken cancellationToken)
    {
        var due = timeProvider.GetUtcNow() - grace;
        if (!(await ListAsync(readModel, cancellationToken)).Any(g => g.State == GenerationState.Retired && g.RetiredAt <= due)) return 0;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await BeginLockedAsync(connection, readModel, cancellationToken);
        var dropped = (await ListAsync(connection, transaction, readModel, cancellationToken))
            .Where(g => g.State == GenerationState.Retired && g.RetiredAt <= due).ToArray();
        foreach (var retired in dropped)
            await DropAsync(connection, transaction, retired, GenerationState.Dropped, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        foreach (var retired in dropped) database.ForgetGeneration(retired);
        return dropped.Length;
    }

    /// <summary>
    /// At schema creation (inside its transaction and lock): gives <paramref name="schema"/> a serving generation and its
    /// view when it has none, adopting the plain table of an earlier release as generation 1; and starts a build when the
    /// declared version is above the serving one (a deployment brought a new version) and none of that version is under way.
    /// </summary>
    internal static async Task EnsureAsync(
        DbConnection connection, DbTransaction transaction, DatabaseProvider provider, IReadModelSchema schema, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var generations = await ListAsync(connection, transaction, schema.Table, cancellationToken);
        if (!generations.Any(g => g.State == GenerationState.Serving))
        {
            var kind = await ObjectKindAsync(connection, transaction, provider, schema.Table, cancellationToken);
            ReadModelGeneration first;
            if (kind == "table")
            {
                // Written by a release before generations: it becomes generation 1 (version 1), with its checkpoint.
                first = new ReadModelGeneration(schema.Table, NextGeneration(generations), 1, GenerationState.Serving,
                    "adopted the table of an earlier release", now, now, null);
                await ExecuteAsync(connection, transaction, $"ALTER TABLE {schema.Table} RENAME TO {first.Table}", cancellationToken);
                await ExecuteAsync(connection, transaction, "UPDATE orderses_projection_checkpoints SET name = @p0 WHERE name = @p1",
                    cancellationToken, first.CheckpointName, schema.Table);
                await InsertAsync(connection, transaction, first, cancellationToken);
                await InsertCheckpointAsync(connection, transaction, first, now, cancellationToken);
            }
            else
            {
                if (kind == "view") await ExecuteAsync(connection, transaction, $"DROP VIEW {schema.Table}", cancellationToken);
                first = await CreateAsync(connection, transaction, provider, schema, NextGeneration(generations), GenerationState.Serving,
                    "first start", now, cancellationToken);
            }
            await ExecuteAsync(connection, transaction, ViewOver(first), cancellationToken);
            generations = [.. generations, first];
        }

        var servingVersion = generations.Single(g => g.State == GenerationState.Serving).Version;
        if (schema.Version <= servingVersion || generations.Any(g => g.State == GenerationState.Building && g.Version == schema.Version)) return;
        foreach (var older in generations.Where(g => g.State == GenerationState.Building))
            await DropAsync(connection, transaction, older, GenerationState.Abandoned, cancellationToken);
        await CreateAsync(connection, transaction, provider, schema, NextGeneration(generations), GenerationState.Building,
            $"version {schema.Version.ToString(CultureInfo.InvariantCulture)} deployed over serving version {servingVersion.ToString(CultureInfo.InvariantCulture)}",
            now, cancellationToken);
    }

    private Task<ReadModelGeneration> CreateAsync(
        DbConnection connection, DbTransaction transaction, IReadModelSchema schema, int generation, GenerationState state, string reason,
        CancellationToken cancellationToken) =>
        CreateAsync(connection, transaction, database.Provider, schema, generation, state, reason, timeProvider.GetUtcNow(), cancellationToken);

    private static async Task<ReadModelGeneration> CreateAsync(
        DbConnection connection, DbTransaction transaction, DatabaseProvider provider, IReadModelSchema schema, int generation,
        GenerationState state, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var created = new ReadModelGeneration(schema.Table, generation, schema.Version, state, reason, now,
            state == GenerationState.Serving ? now : null, null);
        // A table left by a generation whose row was lost would hold rows of another build: start empty.
        await ExecuteAsync(connection, transaction, $"DROP TABLE IF EXISTS {created.Table}", cancellationToken);
        foreach (var statement in schema.Statements(provider, created.Table))
            await ExecuteAsync(connection, transaction, statement, cancellationToken);
        await InsertAsync(connection, transaction, created, cancellationToken);
        await InsertCheckpointAsync(connection, transaction, created, now, cancellationToken);
        return created;
    }

    private static async Task DropAsync(
        DbConnection connection, DbTransaction transaction, ReadModelGeneration generation, GenerationState state, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, $"DROP TABLE IF EXISTS {generation.Table}", cancellationToken);
        await ExecuteAsync(connection, transaction, "DELETE FROM orderses_projection_checkpoints WHERE name = @p0",
            cancellationToken, generation.CheckpointName);
        await ExecuteAsync(connection, transaction, "UPDATE orderses_read_models SET state = @p0 WHERE name = @p1 AND generation = @p2",
            cancellationToken, Stored(state), generation.ReadModel, generation.Generation);
    }

    private static Task SetStateAsync(
        DbConnection connection, DbTransaction transaction, ReadModelGeneration generation, GenerationState state, string timeColumn,
        DateTimeOffset at, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction,
            $"UPDATE orderses_read_models SET state = @p0, {timeColumn} = @p1 WHERE name = @p2 AND generation = @p3",
            cancellationToken, Stored(state), EventRowReader.ToColumn(at), generation.ReadModel, generation.Generation);

    private static string ViewOver(ReadModelGeneration generation) => $"CREATE VIEW {generation.ReadModel} AS SELECT * FROM {generation.Table}";

    private static int NextGeneration(IReadOnlyList<ReadModelGeneration> generations) =>
        generations.Count == 0 ? 1 : generations.Max(g => g.Generation) + 1;

    private async Task<DbTransaction> BeginLockedAsync(DbConnection connection, string readModel, CancellationToken cancellationToken)
    {
        // SQLite: Microsoft.Data.Sqlite begins IMMEDIATE, so the write lock is ours from the start.
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (database.Provider == DatabaseProvider.PostgreSql)
        {
            await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(hashtextextended(@p0, 0))",
                cancellationToken, "orderses.read-model:" + readModel);
        }
        return transaction;
    }

    private static async Task<string?> ObjectKindAsync(
        DbConnection connection, DbTransaction transaction, DatabaseProvider provider, string name, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, provider == DatabaseProvider.PostgreSql
            ? """
              SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relname = @p0 AND n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v')
              """
            : "SELECT type FROM sqlite_master WHERE name = @p0 AND type IN ('table', 'view')", name);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    private static async Task<IReadOnlyList<ReadModelGeneration>> ListAsync(
        DbConnection connection, DbTransaction? transaction, string readModel, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, """
            SELECT generation, version, state, reason, created_at, switched_at, retired_at
            FROM orderses_read_models WHERE name = @p0 ORDER BY generation
            """, readModel);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var generations = new List<ReadModelGeneration>();
        while (await reader.ReadAsync(cancellationToken))
        {
            generations.Add(new ReadModelGeneration(readModel, reader.GetInt32(0), reader.GetInt32(1),
                Enum.Parse<GenerationState>(reader.GetString(2), ignoreCase: true), reader.GetString(3),
                Utc(reader.GetDateTime(4)),
                reader.IsDBNull(5) ? null : Utc(reader.GetDateTime(5)),
                reader.IsDBNull(6) ? null : Utc(reader.GetDateTime(6))));
        }
        return generations;
    }

    private static Task InsertAsync(DbConnection connection, DbTransaction transaction, ReadModelGeneration generation, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, """
            INSERT INTO orderses_read_models (name, generation, version, state, reason, created_at, switched_at, retired_at)
            VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, NULL)
            """, cancellationToken, generation.ReadModel, generation.Generation, generation.Version, Stored(generation.State),
            generation.Reason, EventRowReader.ToColumn(generation.CreatedAt), generation.SwitchedAt is { } at ? EventRowReader.ToColumn(at) : DBNull.Value);

    // The generation's checkpoint exists from the start, so "at the first event" is a row (a retired one is marked, not missing).
    private static Task InsertCheckpointAsync(
        DbConnection connection, DbTransaction transaction, ReadModelGeneration generation, DateTimeOffset now, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, """
            INSERT INTO orderses_projection_checkpoints (name, commit_id, position, updated_at) VALUES (@p0, 0, 0, @p1)
            ON CONFLICT (name) DO NOTHING
            """, cancellationToken, generation.CheckpointName, EventRowReader.ToColumn(now));

    private static string Stored(GenerationState state) => state.ToString().ToLowerInvariant();

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params object[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        for (var i = 0; i < parameters.Length; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "p" + i.ToString(CultureInfo.InvariantCulture);
            parameter.Value = parameters[i];
            command.Parameters.Add(parameter);
        }
        return command;
    }

    private static async Task ExecuteAsync(
        DbConnection connection, DbTransaction transaction, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
