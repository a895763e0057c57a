using Microsoft.Extensions.DependencyInjection;

namespace OrdersEs.Infrastructure.Diagnostics;

/// <summary>Registers the event-sourcing metrics (projection lag).</summary>
internal static class DiagnosticsServiceCollectionExtensions
{
    public static IServiceCollection AddEventSourcingDiagnostics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.AddHostedService<ProjectionLagMetrics>();
        return services;
    }
}
