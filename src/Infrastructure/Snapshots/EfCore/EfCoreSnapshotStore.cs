using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Infrastructure.Snapshots.EfCore;

/// <summary>
/// The durable snapshot store on PostgreSQL or SQLite (<c>pyfly_snapshots</c>): an upsert that replaces the
/// stored row only when the new sequence is greater, so concurrent saves never regress it.
/// </summary>
public sealed class EfCoreSnapshotStore(EventStoreDatabase database) : ISnapshotStore
{
    // Compiled per store: a compiled query is bound to one EF model, and each provider has its own.
    private readonly Func<EventStoreDbContext, string, Task<SnapshotRow?>> _loadQuery =
        EF.CompileAsyncQuery((EventStoreDbContext db, string aggregateId) =>
            db.Snapshots.FirstOrDefault(s => s.AggregateId == aggregateId));

    private readonly EventStoreDatabase _database = database;

    public async Task SaveAsync(Snapshot snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var createdAt = _database.TimestampParameter(snapshot.CreatedAt);
        try
        {
            await using var db = await _database.CreateContextAsync(cancellationToken);
            // The same upsert is valid on PostgreSQL and SQLite (3.24+).
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO pyfly_snapshots (aggregate_id, aggregate_type, sequence, payload, created_at, schema_version)
                VALUES ({snapshot.AggregateId}, {snapshot.AggregateType}, {snapshot.Sequence}, {snapshot.Payload}, {createdAt}, {snapshot.SchemaVersion})
                ON CONFLICT (aggregate_id) DO UPDATE SET
                    aggregate_type = EXCLUDED.aggregate_type,
                    sequence = EXCLUDED.sequence,
                    payload = EXCLUDED.payload,
                    created_at = EXCLUDED.created_at,
                    schema_version = EXCLUDED.schema_version
                WHERE pyfly_snapshots.sequence < EXCLUDED.sequence
                """, cancellationToken);
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "save a snapshot");
        }
    }

    public async Task<Snapshot?> LoadAsync(string aggregateId, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await _database.CreateContextAsync(cancellationToken);
            var row = await _loadQuery(db, aggregateId);
            return row is null
                ? null
                : new Snapshot(row.AggregateId, row.AggregateType, row.Sequence, row.Payload,
                    new DateTimeOffset(DateTime.SpecifyKind(row.CreatedAt, DateTimeKind.Utc)), row.SchemaVersion);
        }
        catch (DbException e)
        {
            throw EventStoreException.From(e, "load a snapshot");
        }
    }
}
