using Microsoft.AspNetCore.Http.Features;

namespace OrdersEs.Api.Http;

/// <summary>
/// Caps request bodies at <see cref="MaxBytes"/>: a declared larger <c>Content-Length</c> is refused before reading
/// (a 413 problem); servers that enforce the limit while streaming (Kestrel) get it per request as well.
/// </summary>
public static class RequestBodyLimit
{
    public const long MaxBytes = 64 * 1024;

    public static Task Middleware(HttpContext context, RequestDelegate next)
    {
        if (context.Request.ContentLength > MaxBytes)
            throw new BadHttpRequestException($"The request body exceeds {MaxBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = MaxBytes;
        return next(context);
    }
}
