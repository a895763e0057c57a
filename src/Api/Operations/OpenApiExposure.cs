namespace OrdersEs.Api.Operations;

/// <summary>
/// Whether the OpenAPI document (<c>/openapi/v1.json</c>) and Swagger UI (<c>/swagger</c>) are served:
/// <c>pyfly:api:openapi:enabled</c> when set, else only in the Development environment.
/// </summary>
public static class OpenApiExposure
{
    public const string EnabledKey = "pyfly:api:openapi:enabled";

    /// <summary>The configured switch decides in every environment; unset, Development serves the documents and other environments do not.</summary>
    public static bool IsEnabled(IConfiguration configuration, IHostEnvironment environment)
    {
        var configured = configuration[EnabledKey];
        if (string.IsNullOrWhiteSpace(configured)) return environment.IsDevelopment();
        return bool.TryParse(configured, out var enabled)
            ? enabled
            : throw new InvalidOperationException($"{EnabledKey} must be true or false, not '{configured}'.");
    }
}
