using System.Data.Common;
using System.Globalization;

using Microsoft.Data.Sqlite;
using Npgsql;

namespace OrdersEs.Infrastructure.Configuration;

/// <summary>
/// Turns a store URL, in SQLAlchemy form (as pyfly configures it) or as an ADO.NET connection string,
/// into a validated <see cref="StoreConnection"/>.
/// </summary>
/// <remarks>
/// <c>sqlite:///:memory:</c> becomes a named, shared-cache in-memory database
/// (<c>Data Source=pyfly-&lt;guid&gt;;Mode=Memory;Cache=Shared</c>) so every connection of the store sees the
/// same data. Each parse gets a fresh name, and the database lives only while at least one connection to it
/// is open: the store has to keep one open for its lifetime.
/// </remarks>
public static class StoreUrl
{
    public const string AcceptedForms =
        "postgresql://user:password@host[:port]/database[?sslmode=require] " +
        "(also postgresql+asyncpg://, postgresql+psycopg://, postgresql+psycopg2://, postgres://), " +
        "sqlite+aiosqlite:///./relative.db, sqlite:////absolute/path.db, sqlite:///:memory:, " +
        "or an ADO.NET connection string (Host=...;Database=... for PostgreSQL, Data Source=... for SQLite)";

    public const int DefaultPostgreSqlPort = 5432;

    private static readonly HashSet<string> PostgreSqlSchemes =
        new(["postgresql", "postgresql+asyncpg", "postgresql+psycopg", "postgresql+psycopg2", "postgres"], StringComparer.OrdinalIgnoreCase);

    private static readonly HashSet<string> SqliteSchemes =
        new(["sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"], StringComparer.OrdinalIgnoreCase);

    // libpq and asyncpg query parameters, and the Npgsql keyword each one sets.
    private static readonly Dictionary<string, string> NpgsqlKeywordsByQueryParameter = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sslmode"] = "SSL Mode",
        ["ssl"] = "SSL Mode",
        ["sslrootcert"] = "Root Certificate",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["sslpassword"] = "SSL Password",
        ["application_name"] = "Application Name",
        ["connect_timeout"] = "Timeout",
        ["command_timeout"] = "Command Timeout",
        ["target_session_attrs"] = "Target Session Attributes",
        ["options"] = "Options",
    };

    /// <summary>Parses <paramref name="value"/>, read from <paramref name="key"/>; throws <see cref="ConfigurationException"/> naming both.</summary>
    public static StoreConnection Parse(string key, string value)
    {
        if (string.IsNullOrWhiteSpace(value)) throw Invalid(key, value, "the URL is empty");
        value = value.Trim();

        var schemeEnd = value.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            return value.Contains('=')
                ? ParseAdoNet(key, value)
                : throw Invalid(key, value, "it is neither a URL (scheme://...) nor a connection string (Keyword=value;...)");
        }

        var scheme = value[..schemeEnd];
        var rest = value[(schemeEnd + 3)..];
        if (PostgreSqlSchemes.Contains(scheme)) return ParsePostgreSqlUrl(key, value, rest);
        if (SqliteSchemes.Contains(scheme)) return ParseSqliteUrl(key, value, rest);
        throw Invalid(key, value, $"unknown scheme '{scheme}'");
    }

    private static StoreConnection ParsePostgreSqlUrl(string key, string value, string rest)
    {
        var queryStart = rest.IndexOf('?');
        var query = queryStart < 0 ? "" : rest[(queryStart + 1)..];
        var authorityAndPath = queryStart < 0 ? rest : rest[..queryStart];

        // The user info ends at the last '@', so a password with an unencoded '@' still parses.
        var at = authorityAndPath.LastIndexOf('@');
        var userInfo = at < 0 ? null : authorityAndPath[..at];
        var hostAndPath = authorityAndPath[(at + 1)..];
        var slash = hostAndPath.IndexOf('/');
        var hostAndPort = slash < 0 ? hostAndPath : hostAndPath[..slash];
        var database = slash < 0 ? "" : Uri.UnescapeDataString(hostAndPath[(slash + 1)..]);

        var (host, port) = SplitHostAndPort(key, value, hostAndPort);
        var builder = new NpgsqlConnectionStringBuilder { Host = host, Port = port };
        if (database.Length > 0) builder.Database = database;
        if (userInfo is not null)
        {
            var colon = userInfo.IndexOf(':');
            var user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            if (user.Length > 0) builder.Username = user;
            if (colon >= 0) builder.Password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
        }

        foreach (var (name, parameterValue) in QueryParameters(query))
        {
            if (!NpgsqlKeywordsByQueryParameter.TryGetValue(name, out var keyword))
            {
                throw Invalid(key, value, $"unsupported query parameter '{name}' (supported: " +
                    string.Join(", ", NpgsqlKeywordsByQueryParameter.Keys) + ")");
            }
            try
            {
                builder[keyword] = keyword == "SSL Mode" ? NpgsqlSslMode(parameterValue) : parameterValue;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or InvalidCastException)
            {
                var shown = keyword == "SSL Password" ? "***" : parameterValue;
                throw Invalid(key, value, $"query parameter {name}={shown} is not valid for Npgsql");
            }
        }
        return new StoreConnection(DatabaseProvider.PostgreSql, builder.ConnectionString);
    }

    private static (string Host, int Port) SplitHostAndPort(string key, string value, string hostAndPort)
    {
        if (hostAndPort.Contains(','))
            throw Invalid(key, value, "several hosts are not supported in URL form; use an ADO.NET connection string (Host=a,b;...)");

        string host;
        string? port = null;
        if (hostAndPort.StartsWith('['))
        {
            var close = hostAndPort.IndexOf(']');
            if (close < 0) throw Invalid(key, value, "the IPv6 host has no closing ']'");
            host = hostAndPort[1..close];
            var afterHost = hostAndPort[(close + 1)..];
            if (afterHost.Length > 0)
            {
                if (!afterHost.StartsWith(':')) throw Invalid(key, value, "unexpected text after the IPv6 host");
                port = afterHost[1..];
            }
        }
        else
        {
            var colon = hostAndPort.LastIndexOf(':');
            host = colon < 0 ? hostAndPort : hostAndPort[..colon];
            port = colon < 0 ? null : hostAndPort[(colon + 1)..];
        }

        host = Uri.UnescapeDataString(host);
        if (host.Length == 0) throw Invalid(key, value, "the URL names no host");
        if (port is null) return (host, DefaultPostgreSqlPort);
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var portNumber) || portNumber is < 1 or > 65535)
            throw Invalid(key, value, $"port '{port}' is not a number from 1 to 65535");
        return (host, portNumber);
    }

    // libpq spells modes verify-ca / verify-full, Npgsql's enum VerifyCA / VerifyFull; asyncpg also takes true/false.
    private static string NpgsqlSslMode(string mode) => mode.ToLowerInvariant() switch
    {
        "true" => "Require",
        "false" => "Disable",
        _ => mode.Replace("-", "", StringComparison.Ordinal),
    };

    private static IEnumerable<(string Name, string Value)> QueryParameters(string query)
    {
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=');
            var name = equals < 0 ? pair : pair[..equals];
            var parameterValue = equals < 0 ? "" : pair[(equals + 1)..];
            yield return (Unescape(name), Unescape(parameterValue));
        }

        static string Unescape(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));
    }

    private static StoreConnection ParseSqliteUrl(string key, string value, string rest)
    {
        if (rest.Contains('?')) throw Invalid(key, value, "query parameters are not supported on SQLite URLs");
        if (rest.Length > 0 && rest[0] != '/')
        {
            throw Invalid(key, value,
                "a SQLite URL has no host: use three slashes before a relative path (sqlite:///./app.db) and four before an absolute one (sqlite:////var/lib/app.db)");
        }

        // SQLAlchemy reads both sqlite:// and sqlite:///:memory: as an in-memory database.
        var path = rest.Length == 0 ? "" : rest[1..];
        if (path is "" or ":memory:") return SharedInMemorySqlite();
        return new StoreConnection(DatabaseProvider.Sqlite, new SqliteConnectionStringBuilder { DataSource = path }.ConnectionString);
    }

    private static StoreConnection SharedInMemorySqlite() =>
        new(DatabaseProvider.Sqlite, new SqliteConnectionStringBuilder
        {
            DataSource = $"pyfly-{Guid.NewGuid():N}",
            Mode = SqliteOpenMode.Memory,
            Cache = SqliteCacheMode.Shared,
        }.ConnectionString);

    private static StoreConnection ParseAdoNet(string key, string value)
    {
        DbConnectionStringBuilder keywords;
        try
        {
            keywords = new DbConnectionStringBuilder { ConnectionString = value };
        }
        catch (ArgumentException)
        {
            throw Invalid(key, value, "the connection string does not parse (expected Keyword=value;Keyword=value)");
        }

        if (keywords.ContainsKey("Host") || keywords.ContainsKey("Server"))
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(value);
                builder.Port = builder.Port; // always spelled out, as in URL form, so equal databases compare equal
                return new StoreConnection(DatabaseProvider.PostgreSql, builder.ConnectionString);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or InvalidCastException)
            {
                throw Invalid(key, value, $"not a valid Npgsql connection string ({ConnectionStringRedactor.Redact(e.Message)})");
            }
        }
        if (keywords.ContainsKey("Data Source") || keywords.ContainsKey("DataSource") || keywords.ContainsKey("Filename"))
        {
            try
            {
                return new StoreConnection(DatabaseProvider.Sqlite, new SqliteConnectionStringBuilder(value).ConnectionString);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or InvalidCastException)
            {
                throw Invalid(key, value, $"not a valid Microsoft.Data.Sqlite connection string ({ConnectionStringRedactor.Redact(e.Message)})");
            }
        }
        throw Invalid(key, value, "the connection string names neither Host (PostgreSQL) nor Data Source (SQLite)");
    }

    /// <summary>Whether two connections name the same database with the same settings, whatever the keyword order or spelling.</summary>
    public static bool SameDatabase(StoreConnection first, StoreConnection second)
    {
        if (first == second) return true;
        if (first.Provider != second.Provider) return false;
        return first.Provider switch
        {
            DatabaseProvider.PostgreSql => new NpgsqlConnectionStringBuilder(first.ConnectionString)
                .EquivalentTo(new NpgsqlConnectionStringBuilder(second.ConnectionString)),
            _ => new SqliteConnectionStringBuilder(first.ConnectionString)
                .EquivalentTo(new SqliteConnectionStringBuilder(second.ConnectionString)),
        };
    }

    private static ConfigurationException Invalid(string key, string value, string problem) =>
        new(key, ConnectionStringRedactor.Redact(value), problem, AcceptedForms);
}
