namespace OrdersEs.Infrastructure.Idempotency;

/// <summary>DDL of the idempotency-key table, run by <see cref="Persistence.DatabaseSchema"/> after the pyfly tables (idempotent).</summary>
/// <remarks>
/// One row per (tenant, key): the primary key is what decides a race between two requests carrying one key.
/// <c>status_code</c> stays NULL while the first request runs; <c>tenant_key</c> is '' for requests without a tenant.
/// </remarks>
internal static class IdempotencySchema
{
    private static readonly string[] Both =
    [
        """
        CREATE TABLE IF NOT EXISTS orderses_idempotency_keys (
            tenant_key VARCHAR(64) NOT NULL,
            idempotency_key VARCHAR(200) NOT NULL,
            request_hash VARCHAR(64) NOT NULL,
            status_code INTEGER NULL,
            response_body TEXT NULL,
            response_location VARCHAR(300) NULL,
            response_etag VARCHAR(40) NULL,
            created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL,
            PRIMARY KEY (tenant_key, idempotency_key)
        )
        """,
        "CREATE INDEX IF NOT EXISTS orderses_idempotency_keys_expires_idx ON orderses_idempotency_keys (expires_at)",
    ];

    public static readonly string[] PostgreSql = Both;

    public static readonly string[] Sqlite = Both;
}
