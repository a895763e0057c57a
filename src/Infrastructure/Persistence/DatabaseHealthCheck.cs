using System.Data.Common;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace OrdersEs.Infrastructure.Persistence;

/// <summary>Readiness of the stores' databases: each answers a trivial query (and has its schema in place).</summary>
public sealed class DatabaseHealthCheck(IReadOnlyList<EventStoreDatabase> databases) : IHealthCheck
{
    public const string Name = "databases";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        foreach (var database in databases)
        {
            try
            {
                await using var connection = await database.OpenConnectionAsync(cancellationToken);
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT 1";
                await command.ExecuteScalarAsync(cancellationToken);
            }
            catch (Exception e) when (e is DbException or TimeoutException or InvalidOperationException)
            {
                // The exception type only: provider messages may name hosts and users.
                return new HealthCheckResult(context.Registration.FailureStatus,
                    $"The {database.Provider} database does not answer ({e.GetType().Name}).");
            }
        }
        return HealthCheckResult.Healthy($"{databases.Count} database(s) answer");
    }
}
