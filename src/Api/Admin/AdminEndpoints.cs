using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OrdersEs.Api.Http;

namespace OrdersEs.Api.Admin;

/// <summary>The admin key, <c>pyfly:admin:api-key</c>; without it every <c>/admin</c> route answers 404.</summary>
public sealed class AdminOptions
{
    public const string SectionKey = "pyfly:admin";
    public const string KeyHeader = "X-Admin-Key";

    [ConfigurationKeyName("api-key")]
    public string? ApiKey { get; set; }
}

/// <summary>
/// Maps <c>/admin</c>, one file per admin area (<see cref="ProjectionsAdmin"/>, <see cref="OutboxAdmin"/>).
/// The whole group is closed unless an admin key is configured.
/// </summary>
public static class AdminEndpoints
{
    public static RouteGroupBuilder MapAdmin(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/admin").WithTags("Admin").AddEndpointFilter(RequireAdminKeyAsync)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound);
        ProjectionsAdmin.Map(group);
        OutboxAdmin.Map(group);
        return group;
    }

    private static async ValueTask<object?> RequireAdminKeyAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var http = invocation.HttpContext;
        var configured = http.RequestServices.GetRequiredService<IOptionsMonitor<AdminOptions>>().CurrentValue.ApiKey;
        if (string.IsNullOrEmpty(configured))
            return TypedResults.Problem(ApiProblems.Create(http, ApiProblems.NotFound, "The admin API is not enabled."));
        if (!KeysMatch(configured, http.Request.Headers[AdminOptions.KeyHeader].ToString()))
            return TypedResults.Problem(ApiProblems.Create(http, ApiProblems.Unauthorized));
        return await next(invocation);
    }

    // Comparing fixed-size digests in constant time reveals neither the key's content nor its length.
    private static bool KeysMatch(string configured, string presented) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(configured)), SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
}
