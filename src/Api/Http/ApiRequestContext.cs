using System.Diagnostics;
using FluentValidation;
using FluentValidation.Results;
using OrdersEs.Infrastructure.EventSourcing;

namespace OrdersEs.Api.Http;

/// <summary>
/// Who is asking, from the optional <c>X-Tenant-Id</c> and <c>X-Correlation-Id</c> headers. Bound into endpoints
/// by <see cref="BindAsync"/>; <see cref="Middleware"/> reads it once per request and echoes the correlation id.
/// </summary>
public sealed record ApiRequestContext(string? TenantId, string CorrelationId)
{
    public const string TenantHeader = "X-Tenant-Id";
    public const string CorrelationHeader = "X-Correlation-Id";
    private const int MaxTenantLength = 64;
    private const int MaxCorrelationLength = 128;

    /// <summary>
    /// Whether this request may see a stream whose events carry <paramref name="streamTenant"/>: only its own tenant's
    /// (null with null). Every read and write of one aggregate asks this; another tenant's aggregate is then a 404.
    /// </summary>
    public bool Owns(string? streamTenant) => string.Equals(streamTenant, TenantId, StringComparison.Ordinal);

    /// <summary>The context stored with the events an append writes.</summary>
    public EventContext ToEventContext() => new(TenantId, CorrelationId);

    /// <summary>Minimal-API binding: the context <see cref="Middleware"/> put on the request.</summary>
    public static ValueTask<ApiRequestContext?> BindAsync(HttpContext context) =>
        ValueTask.FromResult<ApiRequestContext?>(Of(context));

    public static ApiRequestContext Of(HttpContext context) =>
        context.Features.Get<ApiRequestContext>() ?? throw new InvalidOperationException("ApiRequestContext.Middleware is not in the pipeline.");

    /// <summary>
    /// Reads and checks the headers, answers with <c>X-Correlation-Id</c> (when absent: the request's W3C trace id, so
    /// events, logs and traces share one id), and runs the rest of the request in a log scope with both ids.
    /// </summary>
    public static async Task Middleware(HttpContext context, RequestDelegate next)
    {
        var traceId = Activity.Current?.TraceId.ToHexString();
        var correlation = context.Request.Headers[CorrelationHeader].ToString();
        if (string.IsNullOrEmpty(correlation) || correlation.Length > MaxCorrelationLength || !IsPrintableAscii(correlation))
            correlation = traceId ?? Guid.NewGuid().ToString("N");
        context.Response.Headers[CorrelationHeader] = correlation;
        // Kept for the exception handler, which answers on a cleared response and logs outside this scope.
        context.Items[CorrelationHeader] = correlation;

        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(ScopeCategory);
        using var scope = logger.IsEnabled(LogLevel.Critical)
            ? logger.BeginScope(new Dictionary<string, object?> { ["TraceId"] = traceId ?? context.TraceIdentifier, ["CorrelationId"] = correlation })
            : null;
        var tenant = context.Request.Headers[TenantHeader].ToString();
        if (tenant.Length > MaxTenantLength || !IsPrintableAscii(tenant))
            throw new ValidationException([new ValidationFailure(TenantHeader, $"{TenantHeader} must be at most {MaxTenantLength} printable ASCII characters.")]);
        context.Features.Set(new ApiRequestContext(tenant.Length == 0 ? null : tenant, correlation));
        await next(context);
    }

    private const string ScopeCategory = "OrdersEs.Api.Request";

    /// <summary>The request's correlation id once <see cref="Middleware"/> has run (also for a request it refused).</summary>
    public static string? CorrelationOf(HttpContext context) => context.Items[CorrelationHeader] as string;

    private static bool IsPrintableAscii(string value)
    {
        foreach (var c in value)
            if (c is < (char)0x21 or > (char)0x7E) return false;
        return true;
    }
}
