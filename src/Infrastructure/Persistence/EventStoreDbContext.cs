using Microsoft.EntityFrameworkCore;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>A row of <c>pyfly_event_store</c> (the seed's columns plus our <c>global_position</c>).</summary>
public sealed class EventRow
{
    public required string EventId { get; init; }
    public required string AggregateId { get; init; }
    public required string AggregateType { get; init; }
    public int Sequence { get; init; }
    public required string EventType { get; init; }
    /// <summary>The envelope as JSON (pyfly's format), or in older and hand-written rows the bare event payload: see <see cref="EventRowFormat"/>.</summary>
    public required string Payload { get; init; }
    public required string Metadata { get; init; }
    /// <summary>UTC, stored without a time zone as the seed's <c>TIMESTAMP</c> column is.</summary>
    public DateTime OccurredAt { get; init; }
    public int Version { get; init; }
    public string? TenantId { get; init; }
    public long? GlobalPosition { get; init; }
}

/// <summary>A row of <c>pyfly_snapshots</c> (the seed's columns plus our <c>schema_version</c>).</summary>
public sealed class SnapshotRow
{
    public required string AggregateId { get; init; }
    public required string AggregateType { get; init; }
    public int Sequence { get; init; }
    public required string Payload { get; init; }
    public DateTime CreatedAt { get; init; }
    public int SchemaVersion { get; init; }
}

/// <summary>A projection's durable place in the global order (<c>orderses_projection_checkpoints</c>).</summary>
public sealed class ProjectionCheckpointRow
{
    public required string Name { get; init; }
    public long CommitId { get; set; }
    public long Position { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>
/// The EF Core model of the kernel's tables: the pyfly tables and the projection checkpoints. A read model
/// maps its own tables in a context of its own (see <see cref="EventStoreDatabase.CreateContextAsync{TContext}"/>).
/// The schema itself comes from <see cref="DatabaseSchema"/>'s DDL, which matches the seed exactly and upgrades
/// existing tables additively.
/// </summary>
public sealed class EventStoreDbContext(DbContextOptions<EventStoreDbContext> options) : DbContext(options)
{
    public DbSet<EventRow> Events => Set<EventRow>();
    public DbSet<SnapshotRow> Snapshots => Set<SnapshotRow>();
    public DbSet<ProjectionCheckpointRow> ProjectionCheckpoints => Set<ProjectionCheckpointRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<EventRow>(e =>
        {
            e.ToTable("pyfly_event_store");
            e.HasKey(r => r.EventId);
            e.Property(r => r.EventId).HasColumnName("event_id").HasMaxLength(64);
            e.Property(r => r.AggregateId).HasColumnName("aggregate_id").HasMaxLength(64);
            e.Property(r => r.AggregateType).HasColumnName("aggregate_type").HasMaxLength(255);
            e.Property(r => r.Sequence).HasColumnName("sequence");
            e.Property(r => r.EventType).HasColumnName("event_type").HasMaxLength(255);
            e.Property(r => r.Payload).HasColumnName("payload");
            e.Property(r => r.Metadata).HasColumnName("metadata");
            e.Property(r => r.OccurredAt).HasColumnName("occurred_at").HasColumnType("timestamp");
            e.Property(r => r.Version).HasColumnName("version");
            e.Property(r => r.TenantId).HasColumnName("tenant_id").HasMaxLength(64);
            e.Property(r => r.GlobalPosition).HasColumnName("global_position");
            e.HasIndex(r => new { r.AggregateId, r.Sequence }).IsUnique();
        });
        modelBuilder.Entity<SnapshotRow>(e =>
        {
            e.ToTable("pyfly_snapshots");
            e.HasKey(r => r.AggregateId);
            e.Property(r => r.AggregateId).HasColumnName("aggregate_id").HasMaxLength(64);
            e.Property(r => r.AggregateType).HasColumnName("aggregate_type").HasMaxLength(255);
            e.Property(r => r.Sequence).HasColumnName("sequence");
            e.Property(r => r.Payload).HasColumnName("payload");
            e.Property(r => r.CreatedAt).HasColumnName("created_at").HasColumnType("timestamp");
            e.Property(r => r.SchemaVersion).HasColumnName("schema_version");
        });
        modelBuilder.Entity<ProjectionCheckpointRow>(e =>
        {
            e.ToTable("orderses_projection_checkpoints");
            e.HasKey(r => r.Name);
            e.Property(r => r.Name).HasColumnName("name").HasMaxLength(200);
            e.Property(r => r.CommitId).HasColumnName("commit_id");
            e.Property(r => r.Position).HasColumnName("position");
            e.Property(r => r.UpdatedAt).HasColumnName("updated_at").HasColumnType("timestamp");
        });
    }
}
