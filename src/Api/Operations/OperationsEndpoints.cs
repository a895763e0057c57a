using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrdersEs.Infrastructure.Diagnostics;

namespace OrdersEs.Api.Operations;

/// <summary>Liveness, readiness, and (when <see cref="OpenApiExposure"/> allows) the OpenAPI document and Swagger UI.</summary>
public static class OperationsEndpoints
{
    public static IEndpointRouteBuilder MapOperations(this WebApplication app)
    {
        // Liveness runs no check: it answers while the process can serve HTTP at all.
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        // Readiness: 503 when a check is Unhealthy; Degraded (a stuck projection, dead letters) is still 200, and the
        // JSON body says which check and why.
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(HealthTags.Ready),
            ResponseWriter = WriteReportAsync,
        });
        if (!OpenApiExposure.IsEnabled(app.Configuration, app.Environment)) return app;
        app.MapOpenApi();
        app.UseSwaggerUI(options =>
        {
            options.SwaggerEndpoint("/openapi/v1.json", "OrdersEs v1");
            options.DocumentTitle = "OrdersEs API";
        });
        return app;
    }

    /// <summary><c>{"status":"Degraded","checks":{"projections":{"status":"Degraded","description":"..."},...}}</c>.</summary>
    private static Task WriteReportAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, cancellationToken: context.RequestAborted);
    }
}
