using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace OrdersEs.Tests.Pyfly;

/// <summary>pyfly's <c>ConcurrencyError</c>: its version check failed, or the unique constraint caught a racing writer.</summary>
public sealed class PyflyConcurrencyError(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>pyfly's <c>KeyError</c> from <c>from_json</c>: a key it reads with <c>data[...]</c> is missing.</summary>
public sealed class PyflyKeyError(string key) : Exception($"KeyError: '{key}'");

/// <summary>pyfly's <c>EventHandlerException</c> from <c>EventSourcedRepository.load</c>'s envelope checks.</summary>
public sealed class PyflyEventHandlerException(string message) : Exception(message);

/// <summary>
/// One event as pyfly v26.07 builds it (<c>StoredEventEnvelope.of</c>): <paramref name="Payload"/> is the dataclass's
/// <c>asdict</c>, <paramref name="OccurredAt"/> an aware datetime (pyfly's default is <c>datetime.now(UTC)</c>).
/// </summary>
public sealed record PyflyEvent(
    string EventType, JsonObject Payload, DateTimeOffset OccurredAt, JsonObject? Metadata = null, string? TenantId = null,
    string? EventId = null, int Version = 1);

/// <summary>An envelope as pyfly's <c>from_json</c> rebuilds it: each field taken as the JSON holds it.</summary>
public sealed record PyflyEnvelope(
    string EventId, string AggregateId, string AggregateType, int Sequence, string EventType, JsonObject Payload,
    JsonObject Metadata, DateTimeOffset OccurredAt, bool OccurredAtIsAware, int Version, string? TenantId);

/// <summary>
/// The test side's pyfly v26.07.01 <c>SqlAlchemyEventStore</c>, over a database the service also uses: its SQL, its
/// transaction shape and its JSON, written from reading pyfly's <c>store.py</c>, <c>event.py</c> and <c>repository.py</c>.
/// </summary>
/// <remarks>
/// Append (store.py): in one transaction, <c>SELECT COALESCE(MAX(sequence), 0) ... WHERE aggregate_id = :aid</c>, a
/// <c>ConcurrencyError</c> when it is not the expected version, then one INSERT per event filling only the seed's
/// columns: <c>payload</c> = <c>to_json()</c>, <c>metadata</c> = <c>'{}'</c>, <c>occurred_at</c> = the datetime with its
/// tzinfo dropped (its wall time, naive); an <c>IntegrityError</c> becomes <c>ConcurrencyError</c>. On SQLite the
/// Python driver begins the transaction at the first INSERT (the SELECT runs before it), on PostgreSQL at the SELECT.
/// </remarks>
public sealed class PyflyTable(Func<Task<DbConnection>> open, bool sqlite)
{
    /// <summary>pyfly's store on a service's database URL as the API tests hold it (<c>sqlite:///path</c> or an Npgsql connection string).</summary>
    public static PyflyTable ForUrl(string url) => url.StartsWith("sqlite:///", StringComparison.Ordinal)
        ? new PyflyTable(() => OpenAsync(new SqliteConnection("Data Source=" + url["sqlite:///".Length..])), sqlite: true)
        : new PyflyTable(() => OpenAsync(new NpgsqlConnection(url)), sqlite: false);

    private static async Task<DbConnection> OpenAsync(DbConnection connection)
    {
        await connection.OpenAsync();
        return connection;
    }

    /// <summary><c>initialize()</c>: pyfly's DDL, the seed's exactly (a table that exists is left as it is).</summary>
    public async Task InitializeAsync()
    {
        await using var connection = await open();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            CREATE TABLE IF NOT EXISTS pyfly_event_store (
                event_id        VARCHAR(64) PRIMARY KEY,
                aggregate_id    VARCHAR(64) NOT NULL,
                aggregate_type  VARCHAR(255) NOT NULL,
                sequence        INTEGER NOT NULL,
                event_type      VARCHAR(255) NOT NULL,
                payload         TEXT NOT NULL,
                metadata        TEXT NOT NULL,
                occurred_at     TIMESTAMP NOT NULL,
                version         INTEGER NOT NULL,
                tenant_id       VARCHAR(64) NULL,
                UNIQUE (aggregate_id, sequence)
            )
            """;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary><c>append(aggregate_id, aggregate_type, events, expected_version=...)</c>; returns the envelopes as written.</summary>
    public async Task<IReadOnlyList<PyflyEnvelope>> AppendAsync(string aggregateId, string aggregateType, IReadOnlyList<PyflyEvent> events, int expectedVersion)
    {
        await using var append = await BeginAppendAsync(aggregateId, aggregateType, events, expectedVersion);
        await append.InsertAsync();
        await append.CommitAsync();
        return append.Envelopes;
    }

    /// <summary>An append stopped after its version check, for racing it: <see cref="PyflyAppend.InsertAsync"/> and <see cref="PyflyAppend.CommitAsync"/> go on.</summary>
    public async Task<PyflyAppend> BeginAppendAsync(string aggregateId, string aggregateType, IReadOnlyList<PyflyEvent> events, int expectedVersion)
    {
        var connection = await open();
        var append = new PyflyAppend(connection, sqlite, aggregateId, aggregateType, events, expectedVersion);
        try
        {
            await append.CheckAsync();
            return append;
        }
        catch
        {
            await append.DisposeAsync();
            throw;
        }
    }

    /// <summary><c>load(aggregate_id, after_sequence=...)</c>: <c>SELECT payload ... ORDER BY sequence</c>, each through <c>from_json</c>.</summary>
    public async Task<IReadOnlyList<PyflyEnvelope>> LoadAsync(string aggregateId, int afterSequence = 0)
    {
        await using var connection = await open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT payload FROM pyfly_event_store WHERE aggregate_id = @aid AND sequence > @after ORDER BY sequence";
        Add(command, "aid", aggregateId);
        Add(command, "after", afterSequence);
        return await ReadPayloadsAsync(command);
    }

    /// <summary><c>stream_all(limit=...)</c> from the start: <c>SELECT payload ... ORDER BY occurred_at LIMIT :limit</c>.</summary>
    public async Task<IReadOnlyList<PyflyEnvelope>> StreamAllAsync(int limit = 100)
    {
        await using var connection = await open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT payload FROM pyfly_event_store ORDER BY occurred_at LIMIT @limit";
        Add(command, "limit", limit);
        return await ReadPayloadsAsync(command);
    }

    /// <summary>
    /// <c>EventSourcedRepository.load</c>'s checks on each replayed envelope (the aggregate id, and the aggregate type
    /// when set, must be the loaded aggregate's); returns the envelopes it would replay, or null for an unknown stream.
    /// </summary>
    public async Task<IReadOnlyList<PyflyEnvelope>?> RepositoryLoadAsync(string aggregateId, string aggregateClassName)
    {
        var envelopes = await LoadAsync(aggregateId);
        if (envelopes.Count == 0) return null;
        foreach (var envelope in envelopes)
        {
            if (envelope.AggregateId != aggregateId)
                throw new PyflyEventHandlerException($"event aggregate_id '{envelope.AggregateId}' != loaded aggregate '{aggregateId}'");
            if (envelope.AggregateType.Length > 0 && envelope.AggregateType != aggregateClassName)
                throw new PyflyEventHandlerException($"event aggregate_type '{envelope.AggregateType}' != '{aggregateClassName}'");
        }
        return envelopes;
    }

    private static async Task<IReadOnlyList<PyflyEnvelope>> ReadPayloadsAsync(DbCommand command)
    {
        var envelopes = new List<PyflyEnvelope>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) envelopes.Add(FromJson(reader.GetString(0)));
        return envelopes;
    }

    internal static void Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@" + name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    /// <summary>
    /// <c>StoredEventEnvelope.from_json</c>: <c>json.loads</c>, then <c>data["event_id"]</c>, ... (a missing key is a
    /// <c>KeyError</c>), <c>datetime.fromisoformat(data["occurred_at"])</c>, and <c>data.get("tenant_id")</c>.
    /// Python checks no type; the casts here fail where a Python consumer using the value would.
    /// </summary>
    public static PyflyEnvelope FromJson(string raw)
    {
        var data = JsonNode.Parse(raw)!.AsObject();
        JsonNode Key(string key) => data.TryGetPropertyValue(key, out var value) ? value! : throw new PyflyKeyError(key);
        var (occurredAt, aware) = FromIsoFormat(Key("occurred_at").GetValue<string>());
        return new PyflyEnvelope(
            Key("event_id").GetValue<string>(),
            Key("aggregate_id").GetValue<string>(),
            Key("aggregate_type").GetValue<string>(),
            Key("sequence").GetValue<int>(),
            Key("event_type").GetValue<string>(),
            Key("payload").AsObject(),
            Key("metadata").AsObject(),
            occurredAt,
            aware,
            Key("version").GetValue<int>(),
            data.TryGetPropertyValue("tenant_id", out var tenant) && tenant is not null ? tenant.GetValue<string>() : null);
    }

    /// <summary>
    /// Python 3.11's <c>datetime.fromisoformat</c> on what <c>isoformat()</c> writes: <c>YYYY-MM-DDTHH:MM:SS</c>, an
    /// optional fraction of 3 or 6 digits, an optional <c>±HH:MM</c> offset (or <c>Z</c>); aware only with an offset.
    /// </summary>
    public static (DateTimeOffset Value, bool Aware) FromIsoFormat(string text)
    {
        var match = System.Text.RegularExpressions.Regex.Match(text,
            @"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}|\d{6}))?(Z|[+-]\d{2}:\d{2})?$");
        if (!match.Success) throw new FormatException($"Invalid isoformat string: '{text}'");
        int Part(int group) => int.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);
        var fraction = match.Groups[7].Success ? match.Groups[7].Value.PadRight(6, '0') : "0";
        var offset = match.Groups[8].Value switch
        {
            "" or "Z" => TimeSpan.Zero,
            var o => (o[0] == '-' ? -1 : 1) * new TimeSpan(int.Parse(o[1..3], CultureInfo.InvariantCulture), int.Parse(o[4..6], CultureInfo.InvariantCulture), 0),
        };
        var value = new DateTimeOffset(Part(1), Part(2), Part(3), Part(4), Part(5), Part(6), offset)
            .AddTicks(int.Parse(fraction, CultureInfo.InvariantCulture) * 10L);
        return (value, match.Groups[8].Success);
    }

    /// <summary>Python's <c>datetime.isoformat()</c> of an aware datetime: the fraction only when it is not zero, then <c>±HH:MM</c>.</summary>
    public static string IsoFormat(DateTimeOffset value, char separator = 'T')
    {
        var text = value.ToString($"yyyy-MM-dd'{separator}'HH:mm:ss", CultureInfo.InvariantCulture);
        var microseconds = value.Ticks % TimeSpan.TicksPerSecond / 10;
        if (microseconds != 0) text += "." + microseconds.ToString("D6", CultureInfo.InvariantCulture);
        return text + (value.Offset < TimeSpan.Zero ? "-" : "+") + value.Offset.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// <c>to_json()</c>: <c>json.dumps</c> of the envelope's ten keys in pyfly's order, with Python's defaults
    /// (<c>", "</c> and <c>": "</c> separators, non-ASCII escaped as <c>\uXXXX</c>).
    /// </summary>
    public static string ToJson(PyflyEnvelope envelope) => Dumps(new JsonObject
    {
        ["event_id"] = envelope.EventId,
        ["aggregate_id"] = envelope.AggregateId,
        ["aggregate_type"] = envelope.AggregateType,
        ["sequence"] = envelope.Sequence,
        ["event_type"] = envelope.EventType,
        ["payload"] = envelope.Payload.DeepClone(),
        ["metadata"] = envelope.Metadata.DeepClone(),
        ["occurred_at"] = IsoFormat(envelope.OccurredAt),
        ["version"] = envelope.Version,
        ["tenant_id"] = envelope.TenantId,
    });

    /// <summary><c>json.dumps(value)</c> with Python's default settings.</summary>
    public static string Dumps(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject o => "{" + string.Join(", ", o.Select(p => Quote(p.Key) + ": " + Dumps(p.Value))) + "}",
        JsonArray a => "[" + string.Join(", ", a.Select(Dumps)) + "]",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => Quote(v.GetValue<string>()),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => v.ToJsonString(),
        },
        _ => throw new ArgumentOutOfRangeException(nameof(node)),
    };

    private static string Quote(string text)
    {
        var json = new StringBuilder("\"");
        foreach (var c in text)
        {
            json.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\b' => "\\b",
                '\f' => "\\f",
                < ' ' or > '~' => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        }
        return json.Append('"').ToString();
    }
}

/// <summary>One pyfly append in progress (see <see cref="PyflyTable"/>).</summary>
public sealed class PyflyAppend : IAsyncDisposable
{
    private readonly DbConnection _connection;
    private readonly bool _sqlite;
    private readonly string _aggregateId;
    private readonly string _aggregateType;
    private readonly IReadOnlyList<PyflyEvent> _events;
    private readonly int _expectedVersion;
    private DbTransaction? _transaction;

    internal PyflyAppend(DbConnection connection, bool sqlite, string aggregateId, string aggregateType, IReadOnlyList<PyflyEvent> events, int expectedVersion)
    {
        _connection = connection;
        _sqlite = sqlite;
        _aggregateId = aggregateId;
        _aggregateType = aggregateType;
        _events = events;
        _expectedVersion = expectedVersion;
    }

    /// <summary>The envelopes as <see cref="InsertAsync"/> wrote them.</summary>
    public List<PyflyEnvelope> Envelopes { get; } = [];

    internal async Task CheckAsync()
    {
        if (!_sqlite) _transaction = await _connection.BeginTransactionAsync();
        await using var check = _connection.CreateCommand();
        check.Transaction = _transaction;
        check.CommandText = "SELECT COALESCE(MAX(sequence), 0) FROM pyfly_event_store WHERE aggregate_id = @aid";
        PyflyTable.Add(check, "aid", _aggregateId);
        var latest = Convert.ToInt32(await check.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        if (latest != _expectedVersion) throw new PyflyConcurrencyError($"expected version {_expectedVersion}, found {latest}");
    }

    /// <summary>One INSERT per event; a unique violation is pyfly's <c>ConcurrencyError</c>.</summary>
    public async Task InsertAsync()
    {
        if (_sqlite) _transaction = ((SqliteConnection)_connection).BeginTransaction(deferred: true);
        try
        {
            for (var i = 0; i < _events.Count; i++)
            {
                var e = _events[i];
                var envelope = new PyflyEnvelope(e.EventId ?? Guid.NewGuid().ToString(), _aggregateId, _aggregateType, _expectedVersion + i + 1,
                    e.EventType, e.Payload, e.Metadata ?? [], e.OccurredAt, true, e.Version, e.TenantId);
                await using var insert = _connection.CreateCommand();
                insert.Transaction = _transaction;
                insert.CommandText = """
                    INSERT INTO pyfly_event_store
                        (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
                    VALUES (@eid, @aid, @atype, @seq, @etype, @payload, @meta, @occurred, @ver, @tenant)
                    """;
                PyflyTable.Add(insert, "eid", envelope.EventId);
                PyflyTable.Add(insert, "aid", envelope.AggregateId);
                PyflyTable.Add(insert, "atype", envelope.AggregateType);
                PyflyTable.Add(insert, "seq", envelope.Sequence);
                PyflyTable.Add(insert, "etype", envelope.EventType);
                PyflyTable.Add(insert, "payload", PyflyTable.ToJson(envelope));
                PyflyTable.Add(insert, "meta", "{}");
                // tzinfo dropped, not converted: the column holds the datetime's own wall time. Python's sqlite3
                // adapter writes it as isoformat(" "); asyncpg sends a naive timestamp.
                var wallTime = e.OccurredAt.DateTime;
                PyflyTable.Add(insert, "occurred", _sqlite
                    ? PyflyTable.IsoFormat(new DateTimeOffset(wallTime, TimeSpan.Zero), ' ')[..^6]
                    : DateTime.SpecifyKind(wallTime, DateTimeKind.Unspecified));
                PyflyTable.Add(insert, "ver", envelope.Version);
                PyflyTable.Add(insert, "tenant", envelope.TenantId);
                await insert.ExecuteNonQueryAsync();
                Envelopes.Add(envelope);
            }
        }
        catch (DbException e) when (IsIntegrityError(e))
        {
            throw new PyflyConcurrencyError($"concurrent append for aggregate '{_aggregateId}' at version {_expectedVersion}", e);
        }
    }

    public Task CommitAsync() => _transaction!.CommitAsync();

    private static bool IsIntegrityError(DbException e) => e switch
    {
        PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UniqueViolation,
        SqliteException sqlite => sqlite.SqliteErrorCode == 19, // SQLITE_CONSTRAINT
        _ => false,
    };

    public async ValueTask DisposeAsync()
    {
        if (_transaction is not null) await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
