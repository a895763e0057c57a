namespace OrdersEs.Infrastructure.Configuration;

/// <summary>Where events or snapshots are kept: in process memory, or in a relational database through EF Core.</summary>
public enum StoreProvider
{
    Memory,
    EfCore,
}

/// <summary>Reads the <c>provider</c> keys: <c>memory</c> or <c>efcore</c> (<c>sqlalchemy</c> is pyfly's name for it), any case.</summary>
public static class StoreProviderName
{
    public const string Accepted = "'memory', 'efcore' (alias 'sqlalchemy'), case-insensitive";

    /// <summary>The provider a key names; an unset or blank value means <see cref="StoreProvider.Memory"/>.</summary>
    public static StoreProvider Parse(string key, string? value) =>
        value?.Trim().ToLowerInvariant() switch
        {
            null or "" or "memory" => StoreProvider.Memory,
            "efcore" or "sqlalchemy" => StoreProvider.EfCore,
            _ => throw new ConfigurationException(key, ConnectionStringRedactor.Redact(value), "unknown provider", Accepted),
        };
}
