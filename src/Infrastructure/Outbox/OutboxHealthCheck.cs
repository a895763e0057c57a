using System.Data.Common;
using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace OrdersEs.Infrastructure.Outbox;

/// <summary>
/// Readiness of the outbox: Degraded (still 200) while dead letters wait for an operator, with their count and the
/// later messages of their aggregates they park; the messages themselves are listed under <c>GET /admin/outbox</c>.
/// </summary>
public sealed class OutboxHealthCheck(IOutboxMonitor outbox) : IHealthCheck
{
    public const string Name = "outbox";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        OutboxCounts counts;
        try
        {
            counts = await outbox.GetCountsAsync(cancellationToken);
        }
        catch (Exception e) when (e is DbException or TimeoutException or InvalidOperationException)
        {
            // The database check reports the outage itself; the exception type only, as provider messages may name hosts.
            return HealthCheckResult.Degraded($"The outbox cannot be counted ({e.GetType().Name}).");
        }
        var data = new Dictionary<string, object>
        {
            ["pending"] = counts.Pending,
            ["inFlight"] = counts.InFlight,
            ["deadLettered"] = counts.DeadLettered,
            ["parked"] = counts.Parked,
        };
        var pending = counts.Pending.ToString(CultureInfo.InvariantCulture);
        return counts.DeadLettered == 0
            ? HealthCheckResult.Healthy($"No dead letters; {pending} message(s) pending.", data)
            : HealthCheckResult.Degraded(
                $"{counts.DeadLettered.ToString(CultureInfo.InvariantCulture)} dead letter(s) wait for an operator (GET /admin/outbox), " +
                $"parking {counts.Parked.ToString(CultureInfo.InvariantCulture)} later message(s) of their aggregates; {pending} message(s) pending.",
                data: data);
    }
}
