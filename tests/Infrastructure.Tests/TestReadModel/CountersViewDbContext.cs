using Microsoft.EntityFrameworkCore;

namespace OrdersEs.Infrastructure.Tests.TestReadModel;

/// <summary>The EF Core mapping of <c>test_counters_view</c>; its tables come from <see cref="CountersViewSchema"/>.</summary>
public sealed class CountersViewDbContext(DbContextOptions<CountersViewDbContext> options) : DbContext(options)
{
    public DbSet<CounterView> Counters => Set<CounterView>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.Entity<CounterView>(e =>
    {
        e.ToTable(CountersViewSchema.TableName);
        e.HasKey(r => r.Id);
        e.Property(r => r.Id).HasColumnName("id").HasMaxLength(64);
        e.Property(r => r.TenantId).HasColumnName("tenant_id").HasMaxLength(64);
        e.Property(r => r.Name).HasColumnName("name").HasMaxLength(255);
        e.Property(r => r.CountedBy).HasColumnName("counted_by").HasMaxLength(64);
        e.Property(r => r.Status).HasColumnName("status").HasMaxLength(16);
        e.Property(r => r.ThingsJson).HasColumnName("things");
        e.Property(r => r.Total).HasColumnName("total");
        e.Property(r => r.Version).HasColumnName("version");
        e.Property(r => r.StartedAt).HasColumnName("started_at").HasColumnType("timestamp");
        e.Property(r => r.UpdatedAt).HasColumnName("updated_at").HasColumnType("timestamp");
    });
}
