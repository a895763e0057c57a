using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Tests.TestReadModel;

/// <summary>The tables of <c>test_counters_view</c> (each generation's table): the same DDL on PostgreSQL and SQLite.</summary>
public sealed class CountersViewSchema : IReadModelSchema
{
    public const string TableName = "test_counters_view";

    public string Table => TableName;

    /// <summary>Raise it when the table or the projection's logic changes: the next deployment rebuilds the read model blue/green.</summary>
    public int Version => 1;

    public IReadOnlyList<string> Statements(DatabaseProvider provider, string table) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS {table} (
            id VARCHAR(64) PRIMARY KEY,
            tenant_id VARCHAR(64) NULL,
            name VARCHAR(255) NULL,
            counted_by VARCHAR(64) NULL,
            status VARCHAR(16) NOT NULL,
            things TEXT NOT NULL,
            total BIGINT NOT NULL,
            version INTEGER NOT NULL,
            started_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )
        """,
        $"CREATE INDEX IF NOT EXISTS {table}_tenant_status_idx ON {table} (tenant_id, status, started_at)",
    ];
}
