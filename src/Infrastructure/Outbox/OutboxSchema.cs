namespace OrdersEs.Infrastructure.Outbox;

/// <summary>DDL of the outbox tables, run by <see cref="Persistence.DatabaseSchema"/> after the pyfly tables (idempotent).</summary>
internal static class OutboxSchema
{
    public static readonly string[] PostgreSql = [];

    public static readonly string[] Sqlite = [];
}
