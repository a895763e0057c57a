using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.ReadModels.Invoices;

/// <summary>The tables of <c>invoices_view</c>: the same DDL on PostgreSQL and SQLite.</summary>
public sealed class InvoicesViewSchema : IReadModelSchema
{
    public const string Table = "invoices_view";

    private static readonly string[] Ddl =
    [
        $"""
        CREATE TABLE IF NOT EXISTS {Table} (
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
        $"CREATE INDEX IF NOT EXISTS {Table}_tenant_status_idx ON {Table} (tenant_id, status, created_at)",
    ];

    public IReadOnlyList<string> Statements(DatabaseProvider provider) => Ddl;
}
