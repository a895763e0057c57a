namespace OrdersEs.Infrastructure.Idempotency;

/// <summary>DDL of the idempotency-key table, run by <see cref="Persistence.DatabaseSchema"/> after the pyfly tables (idempotent).</summary>
internal static class IdempotencySchema
{
    public static readonly string[] PostgreSql = [];

    public static readonly string[] Sqlite = [];
}
