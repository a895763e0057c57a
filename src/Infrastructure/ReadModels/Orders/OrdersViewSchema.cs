using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.ReadModels.Orders;

/// <summary>The tables of <c>orders_view</c> (each generation's table): the same DDL on PostgreSQL and SQLite.</summary>
public sealed class OrdersViewSchema : IReadModelSchema
{
    public const string TableName = "orders_view";

    public string Table => TableName;

    /// <summary>Raise it when the table or the projection's logic changes: the next deployment rebuilds the read model blue/green.</summary>
    public int Version => 1;

    public IReadOnlyList<string> Statements(DatabaseProvider provider, string table) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS {table} (
            id VARCHAR(64) PRIMARY KEY,
            tenant_id VARCHAR(64) NULL,
            customer_id VARCHAR(64) NOT NULL,
            currency VARCHAR(3) NOT NULL,
            status VARCHAR(16) NOT NULL,
            lines TEXT NOT NULL,
            total BIGINT NOT NULL,
            version INTEGER NOT NULL,
            placed_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )
        """,
        // The two list queries: by status, and by customer, newest first within a tenant.
        $"CREATE INDEX IF NOT EXISTS {table}_tenant_status_idx ON {table} (tenant_id, status, placed_at)",
        $"CREATE INDEX IF NOT EXISTS {table}_tenant_customer_idx ON {table} (tenant_id, customer_id, placed_at)",
    ];
}
