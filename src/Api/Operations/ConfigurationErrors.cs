using Microsoft.Extensions.Options;
using OrdersEs.Infrastructure.Configuration;

namespace OrdersEs.Api.Operations;

/// <summary>How a start-up stopped by configuration ends: one line on standard error naming the key, and exit code 78.</summary>
public static class ConfigurationErrors
{
    /// <summary><c>EX_CONFIG</c> of sysexits.h: the configuration is wrong, restarting will not help.</summary>
    public const int ExitCode = 78;

    /// <summary>
    /// The line to print for <paramref name="error"/>, or null when it is not about configuration (then it is not
    /// caught, and the runtime reports it as it does any crash).
    /// </summary>
    public static string? Line(Exception error) => error switch
    {
        ConfigurationException configuration => configuration.Message,
        OptionsValidationException validation => string.Join(" ", validation.Failures),
        _ => null,
    } is { } message ? "OrdersEs cannot start: " + message.ReplaceLineEndings(" ") : null;
}
