using OrdersEs.Infrastructure.Configuration;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>
/// One read model's table, contributed by the read model itself (registered in DI, found by convention). Queries read
/// <see cref="Table"/>, which is a view over the table of the generation now serving (<c>{Table}_g{generation}</c>);
/// the projection named <see cref="Table"/> keeps it. Each generation's table is created from <see cref="Statements"/>
/// when the generation starts: at first start-up, and for every blue/green rebuild, which builds a new generation beside
/// the serving one and switches the view to it once it has caught up (see <c>docs/architecture.md</c>).
/// </summary>
public interface IReadModelSchema
{
    /// <summary>The name queries read, and the name of the projection that keeps it.</summary>
    string Table { get; }

    /// <summary>
    /// The read model's version: raise it whenever the table's shape or the projection's logic changes. A deployment
    /// whose version is above the serving generation's builds a new generation from the first event while the old one
    /// keeps serving, and switches to it once it has caught up.
    /// </summary>
    int Version => 1;

    /// <summary>
    /// The statements for <paramref name="provider"/> that create the table <paramref name="table"/> (a generation's own
    /// name, such as <c>orders_view_g2</c>) and its indexes, in order. Derive every index name from <paramref name="table"/>.
    /// </summary>
    IReadOnlyList<string> Statements(DatabaseProvider provider, string table);
}
