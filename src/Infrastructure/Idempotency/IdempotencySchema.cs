namespace OrdersEs.Infrastructure.Idempotency;

/// <summary>DDL of the idempotency-key table, run by <see cref="Persistence.DatabaseSchema"/> after the pyfly tables (idempotent).</summary>
/// <remarks>
/// One row per (tenant, key): the primary key is what decides a race between two requests carrying one key.
/// <c>status_code</c> stays NULL while the first request runs, whose claim is <c>claim_token</c>; <c>tenant_key</c> is '' for requests without a tenant.
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
            claim_token VARCHAR(32) NULL,
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

    // Tables made before claims had tokens; a claim without one is never completed, only expired or abandoned.
    private const string AddClaimToken = "ALTER TABLE orderses_idempotency_keys ADD COLUMN claim_token VARCHAR(32) NULL";

    public static readonly string[] PostgreSql = [.. Both, AddClaimToken.Replace("ADD COLUMN", "ADD COLUMN IF NOT EXISTS", StringComparison.Ordinal)];

    public static readonly string[] Sqlite = [.. Both, AddClaimToken];
}
