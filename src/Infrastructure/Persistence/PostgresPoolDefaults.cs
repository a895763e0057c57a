using System.Data.Common;
using Npgsql;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>
/// The settings the service gives its pooled PostgreSQL connections, each one only where the connection string does not
/// set it itself.
/// <list type="bullet">
/// <item><c>No Reset On Close</c>: a connection going back to the pool is not reset. By default Npgsql resets it with
/// seven statements (<c>RESET ALL</c>, <c>UNLISTEN *</c>, ...) sent ahead of its next command, about a fifth of what the
/// server spent on a <c>POST /api/orders</c> (bench/analysis.md). The service leaves no session state behind to reset: it sets no session
/// parameters, and takes its session locks and listens on unpooled connections of their own. A transaction left open is
/// still rolled back. Code of yours that changes session state on these connections needs <c>No Reset On Close=false</c>.</item>
/// <item><c>Max Auto Prepare</c> (hand-written hot paths only): their handful of fixed statements are prepared on the
/// server, parsed and planned once per connection.</item>
/// </list>
/// </summary>
internal static class PostgresPoolDefaults
{
    private const int AutoPrepared = 32;

    /// <summary>The connection string of EF Core's contexts.</summary>
    public static string ForEfCore(string connectionString) => Tuned(connectionString, prepare: false).ConnectionString;

    /// <summary>The connection string of the hand-written hot paths' data source.</summary>
    public static string ForHotPaths(string connectionString) => Tuned(connectionString, prepare: true).ConnectionString;

    private static NpgsqlConnectionStringBuilder Tuned(string connectionString, bool prepare)
    {
        var given = Keywords(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!given.Contains("noresetonclose")) builder.NoResetOnClose = true;
        if (prepare && !given.Contains("maxautoprepare")) builder.MaxAutoPrepare = AutoPrepared;
        return builder;
    }

    /// <summary>The keywords the connection string sets, spaces removed and lower-cased ("No Reset On Close" and "NoResetOnClose" alike).</summary>
    private static HashSet<string> Keywords(string connectionString)
    {
        var parsed = new DbConnectionStringBuilder { ConnectionString = connectionString };
        return parsed.Keys.Cast<string>().Select(key => key.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant()).ToHashSet();
    }
}
