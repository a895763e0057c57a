using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Tests.TestReadModel;

/// <summary>The tables of <c>test_counters_view</c>: the same DDL on PostgreSQL and SQLite.</summary>
public sealed class CountersViewSchema : IReadModelSchema
{
    public const string Table = "test_counters_view";

    private static readonly string[] Ddl =
    [
        $"""
        CREATE TABLE IF NOT EXISTS {Table} (
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
        $"CREATE INDEX IF NOT EXISTS {Table}_tenant_status_idx ON {Table} (tenant_id, status, started_at)",
    ];

    public IReadOnlyList<string> Statements(DatabaseProvider provider) => Ddl;
}
