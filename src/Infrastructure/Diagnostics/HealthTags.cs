namespace OrdersEs.Infrastructure.Diagnostics;

/// <summary>Tags of the health checks, as the health endpoints select them.</summary>
public static class HealthTags
{
    /// <summary>Readiness checks (<c>/health/ready</c>): the databases, the bus, projections and the outbox.</summary>
    public const string Ready = "ready";
}
