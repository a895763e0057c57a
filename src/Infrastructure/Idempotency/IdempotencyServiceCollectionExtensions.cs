using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrdersEs.Infrastructure.Idempotency;

/// <summary>Registers the <see cref="IdempotencyStore"/>, in the database that hosts the read models.</summary>
internal static class IdempotencyServiceCollectionExtensions
{
    public static IServiceCollection AddIdempotency(this IServiceCollection services)
    {
        services.TryAddSingleton(new IdempotencyOptions());
        services.AddSingleton<IdempotencyStore>();
        return services;
    }
}
