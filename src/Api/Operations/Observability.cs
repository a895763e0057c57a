using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Diagnostics;

namespace OrdersEs.Api.Operations;

/// <summary>
/// OpenTelemetry export of the service's traces, metrics and logs, switched on by the standard
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> setting; without it nothing is collected or sent. Besides the service's own
/// <see cref="OrdersEsTelemetry"/> and ASP.NET Core's, it takes Npgsql's and RabbitMQ.Client's spans (their built-in
/// activity sources), Npgsql's connection-pool metrics and the .NET runtime's (the built-in <c>System.Runtime</c> meter).
/// </summary>
public static class Observability
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The activity sources of the libraries the service reaches its servers through.</summary>
    public static readonly string[] LibrarySources = ["Npgsql", "RabbitMQ.Client.Publisher", "RabbitMQ.Client.Subscriber"];

    /// <summary>Npgsql's pool and command metrics, and the runtime's (GC, thread pool, JIT, exceptions).</summary>
    public static readonly string[] LibraryMeters = ["Npgsql", "System.Runtime"];

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
            .WithTracing(tracing => tracing.AddSource(OrdersEsTelemetry.Name).AddSource(LibrarySources)
                .AddAspNetCoreInstrumentation().AddOtlpExporter())
            .WithMetrics(metrics => metrics.AddMeter(OrdersEsTelemetry.Name).AddMeter(LibraryMeters)
                .AddAspNetCoreInstrumentation().AddOtlpExporter())
            // Log records carry the trace and span ids, and the scopes (the correlation id) as attributes.
            .WithLogging(logging => logging.AddOtlpExporter(), options =>
            {
                options.IncludeScopes = true;
                options.IncludeFormattedMessage = true;
            });
        return services;
    }
}
