using OrdersEs.Infrastructure.Configuration;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>
/// The tables of one read model, contributed by the read model itself: registered in DI (found by convention),
/// its DDL runs when the database that hosts the read models first creates or upgrades its schema, after the
/// kernel's tables and in the same transaction. Write it like the kernel's: <c>CREATE ... IF NOT EXISTS</c>, and
/// <c>ALTER TABLE t ADD COLUMN c ...</c> for later columns (skipped on SQLite when the column exists).
/// </summary>
public interface IReadModelSchema
{
    /// <summary>The statements for <paramref name="provider"/>, in order.</summary>
    IReadOnlyList<string> Statements(DatabaseProvider provider);
}
