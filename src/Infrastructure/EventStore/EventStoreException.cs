using System.Data.Common;

namespace OrdersEs.Infrastructure.EventStore;

/// <summary>
/// The database behind a store failed. <see cref="IsTransient"/> is true when retrying later may succeed
/// (connection refused, timeout, lock contention): the API answers 503 for those.
/// </summary>
public sealed class EventStoreException(string message, Exception innerException, bool isTransient)
    : Exception(message, innerException)
{
    public bool IsTransient { get; } = isTransient;

    /// <summary>Wraps a provider exception without leaking connection details into the message.</summary>
    public static EventStoreException From(DbException exception, string operation) =>
        new($"The event store database failed to {operation}.", exception, IsTransientFailure(exception));

    private static bool IsTransientFailure(DbException exception) => exception switch
    {
        _ when exception.IsTransient => true,
        Npgsql.PostgresException postgres => postgres.SqlState.StartsWith("08", StringComparison.Ordinal) // connection exceptions
            || postgres.SqlState is "57P01" or "57P02" or "57P03" or "53300" or "40001" or "40P01",
        Npgsql.NpgsqlException => true, // not a server error: the connection itself failed
        Microsoft.Data.Sqlite.SqliteException sqlite => sqlite.SqliteErrorCode is 5 or 6, // SQLITE_BUSY, SQLITE_LOCKED
        _ => false,
    };
}
