using Microsoft.AspNetCore.Diagnostics.HealthChecks;

namespace OrdersEs.Api.Operations;

/// <summary>Liveness, readiness, the OpenAPI document and Swagger UI.</summary>
public static class OperationsEndpoints
{
    public static IEndpointRouteBuilder MapOperations(this WebApplication app)
    {
        // Liveness runs no check: it answers while the process can serve HTTP at all.
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(OrdersEs.Infrastructure.DependencyInjection.ReadyTag) });
        app.MapOpenApi();
        app.UseSwaggerUI(options =>
        {
            options.SwaggerEndpoint("/openapi/v1.json", "OrdersEs v1");
            options.DocumentTitle = "OrdersEs API";
        });
        return app;
    }
}
