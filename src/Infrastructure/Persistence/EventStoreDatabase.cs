using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Npgsql;
using OrdersEs.Infrastructure.Configuration;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>
/// One relational database holding the pyfly tables: a pooled data source for the hand-written hot paths,
/// pooled EF Core contexts for the rest (the kernel's <see cref="EventStoreDbContext"/> and each read model's own),
/// and the schema (the kernel's tables, then those of the read models it hosts) created or upgraded once before first use.
/// </summary>
public sealed class EventStoreDatabase : IAsyncDisposable
{
    private readonly Lock _schemaGate = new();
    private readonly PooledDbContextFactory<EventStoreDbContext> _contexts;
    // One pool per read-model context type (and generation table, for projections), created on first use with the same
    // provider settings as the kernel's.
    private readonly ConcurrentDictionary<(Type, string?), object> _readModelContexts = new();
    private readonly IReadOnlyList<IReadModelSchema> _readModels;
    private Task? _schema;
    // An in-memory SQLite database lives as long as one connection to it is open.
    private readonly SqliteConnection? _keepAlive;
    // What EF Core's contexts connect with (on PostgreSQL its own Npgsql pool, keyed by this string).
    private readonly string _efConnectionString;

    /// <param name="readModels">The schemas of the read models this database hosts (none for a database of events or snapshots only).</param>
    public EventStoreDatabase(StoreConnection connection, IEnumerable<IReadModelSchema>? readModels = null)
    {
        Connection = connection;
        _readModels = readModels?.ToArray() ?? [];
        if (connection.Provider == DatabaseProvider.PostgreSql)
        {
            _efConnectionString = PostgresPoolDefaults.ForEfCore(connection.ConnectionString);
            DataSource = new NpgsqlDataSourceBuilder(PostgresPoolDefaults.ForHotPaths(connection.ConnectionString)).Build();
        }
        else
        {
            var builder = new SqliteConnectionStringBuilder(connection.ConnectionString);
            if (builder.Mode == SqliteOpenMode.Memory)
            {
                _keepAlive = new SqliteConnection(builder.ConnectionString);
                _keepAlive.Open();
            }
            DataSource = SqliteFactory.Instance.CreateDataSource(builder.ConnectionString);
            _efConnectionString = builder.ConnectionString;
        }
        _contexts = CreatePool<EventStoreDbContext>();
    }

    public StoreConnection Connection { get; }

    public DatabaseProvider Provider => Connection.Provider;

    /// <summary>Pooled connections for hand-written SQL on the hot paths.</summary>
    public DbDataSource DataSource { get; }

    /// <summary>Creates or upgrades the schema once; a failed attempt (database down) is retried on the next call.</summary>
    public Task EnsureSchemaAsync(CancellationToken cancellationToken = default)
    {
        // Hot path: every append passes here; once the schema exists, no lock.
        if (Volatile.Read(ref _schema) is { IsCompletedSuccessfully: true } done) return done;
        lock (_schemaGate)
        {
            if (_schema is null || _schema.IsFaulted || _schema.IsCanceled)
                _schema = CreateSchemaAsync(cancellationToken);
            return _schema;
        }
    }

    /// <summary>An open connection to a database whose schema is in place.</summary>
    public async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        var schema = EnsureSchemaAsync(cancellationToken);
        if (!schema.IsCompletedSuccessfully) await schema;
        return await DataSource.OpenConnectionAsync(cancellationToken);
    }

    /// <summary>A pooled EF Core context of the kernel's tables (no tracking) on a database whose schema is in place.</summary>
    public async ValueTask<EventStoreDbContext> CreateContextAsync(CancellationToken cancellationToken = default)
    {
        var schema = EnsureSchemaAsync(cancellationToken);
        if (!schema.IsCompletedSuccessfully) await schema;
        return _contexts.CreateDbContext();
    }

    /// <summary>
    /// A pooled context of a read model's own EF mapping (no tracking) on this database, whose schema is in place.
    /// <typeparamref name="TContext"/> needs a constructor taking <c>DbContextOptions&lt;TContext&gt;</c>.
    /// </summary>
    public async ValueTask<TContext> CreateContextAsync<TContext>(CancellationToken cancellationToken = default) where TContext : DbContext
    {
        var schema = EnsureSchemaAsync(cancellationToken);
        if (!schema.IsCompletedSuccessfully) await schema;
        var pool = (PooledDbContextFactory<TContext>)_readModelContexts.GetOrAdd((typeof(TContext), null), _ => CreatePool<TContext>());
        return pool.CreateDbContext();
    }

    /// <summary>
    /// A pooled context of a read model's own EF mapping that reads and writes the table of <paramref name="generation"/>
    /// instead of the read model's view: what its projection uses (see <see cref="ReadModelGenerations"/>).
    /// </summary>
    public async ValueTask<TContext> CreateContextAsync<TContext>(ReadModelGeneration generation, CancellationToken cancellationToken = default)
        where TContext : DbContext
    {
        var schema = EnsureSchemaAsync(cancellationToken);
        if (!schema.IsCompletedSuccessfully) await schema;
        var pool = (PooledDbContextFactory<TContext>)_readModelContexts.GetOrAdd(
            (typeof(TContext), generation.Table), _ => CreatePool<TContext>(generation));
        return pool.CreateDbContext();
    }

    /// <summary>
    /// Lets go of the context pool of a generation whose table was dropped (retired or abandoned): a service that rebuilds
    /// its read models now and then would otherwise keep one pool, with its idle contexts, per generation it ever built.
    /// A projection still holding one of its contexts finishes with it; the next one it asks for comes from a new pool.
    /// </summary>
    internal void ForgetGeneration(ReadModelGeneration generation)
    {
        foreach (var key in _readModelContexts.Keys.Where(key => key.Item2 == generation.Table))
            _readModelContexts.TryRemove(key, out _);
    }

    /// <summary>Whether this database keeps a context pool for the generation table <paramref name="table"/>.</summary>
    internal bool HoldsContextPool(string table) => _readModelContexts.Keys.Any(key => key.Item2 == table);

    /// <summary>The schema of the read model <paramref name="name"/> when this database hosts it.</summary>
    public IReadModelSchema? ReadModel(string name) => _readModels.FirstOrDefault(model => model.Table == name);

    private PooledDbContextFactory<TContext> CreatePool<TContext>(ReadModelGeneration? generation = null) where TContext : DbContext
    {
        var options = new DbContextOptionsBuilder<TContext>();
        if (generation is not null) GenerationTableExtension.Use(options, generation);
        // EF Core gets the connection string, not the data source, so every database shares one EF model per context
        // type and one service provider; the data source is a second pool kept for the hand-written hot paths.
        if (Provider == DatabaseProvider.PostgreSql) options.UseNpgsql(_efConnectionString);
        else options.UseSqlite(_efConnectionString);
        options.UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking);
        return new PooledDbContextFactory<TContext>(options.Options);
    }

    /// <summary>A UTC time as a parameter for the seed's zone-less <c>TIMESTAMP</c> columns.</summary>
    public DbParameter TimestampParameter(DateTimeOffset value)
    {
        var utc = DateTime.SpecifyKind(value.UtcDateTime, DateTimeKind.Unspecified);
        return Provider == DatabaseProvider.PostgreSql
            ? new NpgsqlParameter { Value = utc, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Timestamp }
            : new SqliteParameter { Value = utc };
    }

    private async Task CreateSchemaAsync(CancellationToken cancellationToken)
    {
        if (Provider == DatabaseProvider.Sqlite) CreateSqliteFolder();
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await DatabaseSchema.EnsureAsync(connection, Provider, _readModels, DateTimeOffset.UtcNow, cancellationToken);
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < SchemaAttempts)
            {
                // Another instance of the service already works on these tables: its statement and this DDL (which locks
                // the tables even when everything exists) can wait on each other, and PostgreSQL aborts one side. The DDL
                // rolled back whole and is idempotent: run it again.
                await Task.Delay(TimeSpan.FromMilliseconds(50 * attempt), cancellationToken);
            }
        }
    }

    private const int SchemaAttempts = 5;

    private void CreateSqliteFolder()
    {
        var builder = new SqliteConnectionStringBuilder(Connection.ConnectionString);
        if (builder.Mode == SqliteOpenMode.Memory || string.IsNullOrEmpty(builder.DataSource)) return;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(builder.DataSource))!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Opening the database then fails with a SqliteException naming the file, which callers already handle.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        // EF Core's contexts connect through Npgsql's pool for the connection string: close its idle connections too.
        if (Provider == DatabaseProvider.PostgreSql)
        {
            await using var pooled = new NpgsqlConnection(_efConnectionString);
            NpgsqlConnection.ClearPool(pooled);
        }
        if (_keepAlive is not null) await _keepAlive.DisposeAsync();
        if (Provider == DatabaseProvider.Sqlite) SqliteConnection.ClearAllPools();
    }
}
