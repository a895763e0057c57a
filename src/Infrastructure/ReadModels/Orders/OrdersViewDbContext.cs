using Microsoft.EntityFrameworkCore;

namespace OrdersEs.Infrastructure.ReadModels.Orders;

/// <summary>The EF Core mapping of <c>orders_view</c>; its tables come from <see cref="OrdersViewSchema"/>.</summary>
public sealed class OrdersViewDbContext(DbContextOptions<OrdersViewDbContext> options) : DbContext(options)
{
    public DbSet<OrderView> Orders => Set<OrderView>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.Entity<OrderView>(e =>
    {
        e.ToTable(OrdersViewSchema.TableName);
        e.HasKey(r => r.Id);
        e.Property(r => r.Id).HasColumnName("id").HasMaxLength(64);
        e.Property(r => r.TenantId).HasColumnName("tenant_id").HasMaxLength(64);
        e.Property(r => r.CustomerId).HasColumnName("customer_id").HasMaxLength(64);
        e.Property(r => r.Currency).HasColumnName("currency").HasMaxLength(3);
        e.Property(r => r.Status).HasColumnName("status").HasMaxLength(16);
        e.Property(r => r.LinesJson).HasColumnName("lines");
        e.Property(r => r.Total).HasColumnName("total");
        e.Property(r => r.Version).HasColumnName("version");
        e.Property(r => r.PlacedAt).HasColumnName("placed_at").HasColumnType("timestamp");
        e.Property(r => r.UpdatedAt).HasColumnName("updated_at").HasColumnType("timestamp");
    });
}
