using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace OrdersEs.ServiceDefaults;

/// <summary>
/// The Aspire service defaults this service needs: service discovery (resolves <c>http://api</c>-style names the app host
/// hands out) and the standard resilience handler on every <c>HttpClient</c>. Telemetry and health checks are not here:
/// the service has its own (<c>Operations/Observability.cs</c>, switched on by the <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>
/// Aspire sets, and <c>/health/live</c>, <c>/health/ready</c>), the same with or without Aspire.
/// </summary>
public static class ServiceDefaultsExtensions
{
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }
}
