using Microsoft.EntityFrameworkCore;

namespace OrdersEs.Infrastructure.ReadModels.Invoices;

/// <summary>The EF Core mapping of <c>invoices_view</c>; its tables come from <see cref="InvoicesViewSchema"/>.</summary>
public sealed class InvoicesViewDbContext(DbContextOptions<InvoicesViewDbContext> options) : DbContext(options)
{
    public DbSet<InvoiceView> Invoices => Set<InvoiceView>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.Entity<InvoiceView>(e =>
    {
        e.ToTable(InvoicesViewSchema.TableName);
        e.HasKey(r => r.Id);
        e.Property(r => r.Id).HasColumnName("id").HasMaxLength(64);
        e.Property(r => r.TenantId).HasColumnName("tenant_id").HasMaxLength(64);
        e.Property(r => r.Name).HasColumnName("name").HasMaxLength(200);
        e.Property(r => r.Status).HasColumnName("status").HasMaxLength(16);
        e.Property(r => r.Version).HasColumnName("version");
        e.Property(r => r.CreatedAt).HasColumnName("created_at").HasColumnType("timestamp");
        e.Property(r => r.UpdatedAt).HasColumnName("updated_at").HasColumnType("timestamp");
    });
}
