using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.ReadModels.Invoices;

/// <summary>The tables of <c>invoices_view</c> (each generation's table): the same DDL on PostgreSQL and SQLite.</summary>
public sealed class InvoicesViewSchema : IReadModelSchema
{
    public const string TableName = "invoices_view";

    public string Table => TableName;

    /// <summary>Raise it when the table or the projection's logic changes: the next deployment rebuilds the read model blue/green.</summary>
    public int Version => 1;

    public IReadOnlyList<string> Statements(DatabaseProvider provider, string table) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS {table} (
            id VARCHAR(64) PRIMARY KEY,
            tenant_id VARCHAR(64) NULL,
            name VARCHAR(200) NOT NULL,
            status VARCHAR(16) NOT NULL,
            version INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )
        """,
        // The list query: a tenant's invoices, optionally by status, newest first.
        $"CREATE INDEX IF NOT EXISTS {table}_tenant_status_idx ON {table} (tenant_id, status, created_at)",
    ];
}
