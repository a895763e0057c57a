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

    /// <summary>The context stored with the events an append writes.</summary>
    public EventContext ToEventContext() => new(TenantId, CorrelationId);

    /// <summary>Minimal-API binding: the context <see cref="Middleware"/> put on the request.</summary>
    public static ValueTask<ApiRequestContext?> BindAsync(HttpContext context) =>
        ValueTask.FromResult<ApiRequestContext?>(Of(context));

    public static ApiRequestContext Of(HttpContext context) =>
        context.Features.Get<ApiRequestContext>() ?? throw new InvalidOperationException("ApiRequestContext.Middleware is not in the pipeline.");

    /// <summary>Reads and checks the headers, answers with <c>X-Correlation-Id</c> (generated when absent).</summary>
    public static Task Middleware(HttpContext context, RequestDelegate next)
    {
        var correlation = context.Request.Headers[CorrelationHeader].ToString();
        if (string.IsNullOrEmpty(correlation) || correlation.Length > MaxCorrelationLength || !IsPrintableAscii(correlation))
            correlation = Guid.NewGuid().ToString("N");
        context.Response.Headers[CorrelationHeader] = correlation;

        var tenant = context.Request.Headers[TenantHeader].ToString();
        if (tenant.Length > MaxTenantLength || !IsPrintableAscii(tenant))
            throw new ValidationException([new ValidationFailure(TenantHeader, $"{TenantHeader} must be at most {MaxTenantLength} printable ASCII characters.")]);
        context.Features.Set(new ApiRequestContext(tenant.Length == 0 ? null : tenant, correlation));
        return next(context);
    }

    private static bool IsPrintableAscii(string value)
    {
        foreach (var c in value)
            if (c is < (char)0x21 or > (char)0x7E) return false;
        return true;
    }
}
