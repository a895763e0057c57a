namespace OrdersEs.Infrastructure.Configuration;

/// <summary>
/// A configuration value that cannot be used: names the key, the value (secrets masked) and what is accepted.
/// Thrown at start-up, before any connection is opened.
/// </summary>
public sealed class ConfigurationException : Exception
{
    public ConfigurationException(string key, string? maskedValue, string problem, string accepted)
        : base($"Configuration key '{key}' has the invalid value '{maskedValue}': {problem}. Accepted: {accepted}.")
    {
        Key = key;
        MaskedValue = maskedValue;
    }

    /// <summary>The configuration key, in its colon form (<c>pyfly:eventsourcing:store:url</c>).</summary>
    public string Key { get; }

    /// <summary>The rejected value with any password replaced by <c>***</c>.</summary>
    public string? MaskedValue { get; }
}
