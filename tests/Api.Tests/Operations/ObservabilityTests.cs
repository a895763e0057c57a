using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Xunit;

namespace OrdersEs.Api.Tests.Operations;

public class ObservabilityTests
{
    private static WebApplicationFactory<Program> Service(string? otlpEndpoint) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("pyfly:eventsourcing:store:provider", "memory");
            builder.UseSetting("pyfly:eventsourcing:snapshot:provider", "memory");
            if (otlpEndpoint is not null) builder.UseSetting("OTEL_EXPORTER_OTLP_ENDPOINT", otlpEndpoint);
        });

    [Fact]
    public async Task Traces_and_metrics_are_exported_when_an_otlp_endpoint_is_configured()
    {
        await using var service = Service("http://127.0.0.1:4317");
        Assert.NotNull(service.Services.GetService<TracerProvider>());
        Assert.NotNull(service.Services.GetService<MeterProvider>());
    }

    [Fact]
    public async Task Nothing_is_collected_without_an_otlp_endpoint()
    {
        await using var service = Service(null);
        Assert.Null(service.Services.GetService<TracerProvider>());
        Assert.Null(service.Services.GetService<MeterProvider>());
    }
}
