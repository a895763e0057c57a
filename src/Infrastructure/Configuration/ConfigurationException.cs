namespace OrdersEs.Infrastructure.Configuration;

/// <summary>
/// A configuration value that cannot be used: names the key, the value (secrets masked) and what is accepted.
/// Thrown at start-up, before any connection is opened; its message is one line, fit to be the only output.
/// </summary>
public sealed class ConfigurationException : Exception
{
    public ConfigurationException(string key, string? maskedValue, string problem, string accepted)
        : this(key, maskedValue, $"Configuration key '{key}' has the invalid value '{maskedValue}': {problem}. Accepted: {accepted}.")
    {
    }

    private ConfigurationException(string key, string? maskedValue, string message) : base(message)
    {
        Key = key;
        MaskedValue = maskedValue;
    }

    /// <summary>The configuration key, in its colon form (<c>pyfly:eventsourcing:store:url</c>).</summary>
    public string Key { get; }

    /// <summary>The rejected value with any password replaced by <c>***</c>; null when the key is not set.</summary>
    public string? MaskedValue { get; }

    /// <summary>A key that must be set and is not (or is blank).</summary>
    public static ConfigurationException NotSet(string key, string problem, string accepted) =>
        new(key, null, $"Configuration key '{key}' is not set: {problem}. Accepted: {accepted}.");
}
