using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>
/// Points a read model's EF Core mapping at one generation's table: the entity types its context maps to the read model's
/// name (the view queries read) are mapped to <c>{name}_g{generation}</c> instead, so a projection writes the generation
/// it builds or serves with the feature's own, unchanged context. One EF model is cached per context type and table.
/// </summary>
internal sealed class GenerationTableExtension(string readModel, string table) : IDbContextOptionsExtension
{
    private DbContextOptionsExtensionInfo? _info;

    public string ReadModel { get; } = readModel;
    public string Table { get; } = table;

    public DbContextOptionsExtensionInfo Info => _info ??= new ExtensionInfo(this);

    public void ApplyServices(IServiceCollection services)
    {
    }

    public void Validate(IDbContextOptions options)
    {
    }

    /// <summary>Adds the mapping to <paramref name="options"/>, with the model customization that applies it.</summary>
    public static void Use(DbContextOptionsBuilder options, ReadModelGeneration generation)
    {
        options.ReplaceService<IModelCacheKeyFactory, CacheKeyFactory>().ReplaceService<IModelCustomizer, Customizer>();
        ((IDbContextOptionsBuilderInfrastructure)options).AddOrUpdateExtension(new GenerationTableExtension(generation.ReadModel, generation.Table));
    }

    private static GenerationTableExtension? Of(DbContext context) =>
        context.GetService<IDbContextOptions>().FindExtension<GenerationTableExtension>();

    private sealed class ExtensionInfo(GenerationTableExtension extension) : DbContextOptionsExtensionInfo(extension)
    {
        public override bool IsDatabaseProvider => false;

        public override string LogFragment => $"GenerationTable={extension.Table} ";

        // The table only changes the model (keyed below), not the internal services: every generation shares them.
        public override int GetServiceProviderHashCode() => 0;

        public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other) => other is ExtensionInfo;

        public override void PopulateDebugInfo(IDictionary<string, string> debugInfo) =>
            debugInfo["OrdersEs:GenerationTable"] = extension.Table;
    }

    private sealed class CacheKeyFactory : IModelCacheKeyFactory
    {
        public object Create(DbContext context, bool designTime) => (context.GetType(), Of(context)?.Table, designTime);
    }

    private sealed class Customizer(ModelCustomizerDependencies dependencies) : RelationalModelCustomizer(dependencies)
    {
        public override void Customize(ModelBuilder modelBuilder, DbContext context)
        {
            base.Customize(modelBuilder, context);
            if (Of(context) is not { } mapping) return;
            foreach (var entity in modelBuilder.Model.GetEntityTypes())
                if (entity.GetTableName() == mapping.ReadModel) entity.SetTableName(mapping.Table);
        }
    }
}
