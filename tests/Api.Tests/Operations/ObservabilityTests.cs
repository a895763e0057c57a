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
    public async Task Traces_metrics_and_logs_are_exported_when_an_otlp_endpoint_is_configured()
    {
        await using var service = Service("http://127.0.0.1:4317");
        Assert.NotNull(service.Services.GetService<TracerProvider>());
        Assert.NotNull(service.Services.GetService<MeterProvider>());
        Assert.NotNull(service.Services.GetService<OpenTelemetry.Logs.LoggerProvider>());
    }

    [Fact]
    public async Task Npgsql_and_RabbitMQ_Client_spans_and_the_Npgsql_and_runtime_meters_are_collected()
    {
        await using var service = Service("http://127.0.0.1:4317");
        _ = service.Services.GetRequiredService<TracerProvider>();
        _ = service.Services.GetRequiredService<MeterProvider>();
        foreach (var source in new[] { "Npgsql", "RabbitMQ.Client.Publisher", "RabbitMQ.Client.Subscriber" })
        {
            using var probe = new System.Diagnostics.ActivitySource(source);
            Assert.True(probe.HasListeners(), $"nothing listens to the activity source {source}");
        }
        foreach (var meter in new[] { "Npgsql", "System.Runtime" })
        {
            using var probe = new System.Diagnostics.Metrics.Meter(meter);
            var counter = probe.CreateCounter<long>("orderses.test.probe");
            await WaitUntilAsync(() => counter.Enabled);
            Assert.True(counter.Enabled, $"nothing collects the meter {meter}");
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 50 && !condition(); i++) await Task.Delay(20);
    }

    [Fact]
    public async Task Nothing_is_collected_without_an_otlp_endpoint()
    {
        await using var service = Service(null);
        Assert.Null(service.Services.GetService<TracerProvider>());
        Assert.Null(service.Services.GetService<MeterProvider>());
    }
}
