using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Diagnostics;

namespace OrdersEs.Api.Operations;

/// <summary>
/// OpenTelemetry export of the service's traces and metrics (<see cref="OrdersEsTelemetry"/> plus ASP.NET Core's),
/// switched on by the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> setting; without it nothing is collected or sent.
/// </summary>
public static class Observability
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static IServiceCollection AddObservability(this IServiceCollection services, IConfiguration configuration)
    {
        var endpoint = configuration[EndpointKey];
        if (string.IsNullOrWhiteSpace(endpoint)) return services;
        // Checked here so a malformed endpoint stops start-up naming its key, not later inside the exporter.
        if (!Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ConfigurationException(EndpointKey, endpoint, "not an http or https URL", "an OTLP collector URL such as http://localhost:4317");
        // The exporter reads the endpoint, protocol and headers from the standard OTEL_* settings itself.
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(configuration["OTEL_SERVICE_NAME"] ?? OrdersEsTelemetry.Name))
            .WithTracing(tracing => tracing.AddSource(OrdersEsTelemetry.Name).AddAspNetCoreInstrumentation().AddOtlpExporter())
            .WithMetrics(metrics => metrics.AddMeter(OrdersEsTelemetry.Name).AddAspNetCoreInstrumentation().AddOtlpExporter());
        return services;
    }
}
