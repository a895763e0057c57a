using System.Text;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace OrdersEs.Api.Http;

/// <summary>
/// The <c>charset</c> of a request's <c>Content-Type</c>, checked before the body is read: a quoted value is the
/// same as the token (RFC 9110 8.3.1, <c>charset="UTF-8"</c>) and is passed on unquoted; an empty or unknown
/// charset, or a header that does not parse, is a 415 problem.
/// </summary>
public static class RequestCharset
{
    public static Task Middleware(HttpContext context, RequestDelegate next)
    {
        var header = context.Request.ContentType;
        if (header is not null && header.Contains(';'))
        {
            if (!MediaTypeHeaderValue.TryParse(header, out var media))
                throw Unsupported($"Content-Type '{header}' cannot be parsed.");
            var charset = media.Parameters.FirstOrDefault(p => p.Name.Equals("charset", StringComparison.OrdinalIgnoreCase));
            if (charset is not null)
            {
                var name = charset.Value.HasValue ? HeaderUtilities.RemoveQuotes(charset.Value).Value!.Trim() : "";
                if (name.Length == 0 || !IsKnown(name))
                    throw Unsupported($"charset '{name}' is not supported; send UTF-8.");
                charset.Value = new StringSegment(name);
                context.Request.ContentType = media.ToString();
            }
        }
        return next(context);
    }

    private static bool IsKnown(string name)
    {
        try
        {
            _ = Encoding.GetEncoding(name);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static BadHttpRequestException Unsupported(string message) => new(message, StatusCodes.Status415UnsupportedMediaType);
}
