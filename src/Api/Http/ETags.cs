using System.Globalization;
using FluentValidation;
using FluentValidation.Results;

namespace OrdersEs.Api.Http;

/// <summary>Entity tags of orders: the aggregate version as a quoted string (<c>"3"</c>).</summary>
public static class ETags
{
    public const string IfMatchHeader = "If-Match";

    public static string For(int version) => $"\"{version.ToString(CultureInfo.InvariantCulture)}\"";

    /// <summary>The version an <c>If-Match</c> header requires; null when absent or <c>*</c>; a 400 when malformed.</summary>
    public static int? ParseIfMatch(string? header)
    {
        if (string.IsNullOrWhiteSpace(header)) return null;
        var value = header.Trim();
        if (value == "*") return null;
        if (value.StartsWith("W/", StringComparison.Ordinal)) value = value[2..];
        if (value.Length > 2 && value[0] == '"' && value[^1] == '"'
            && int.TryParse(value.AsSpan(1, value.Length - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            return version;
        throw new ValidationException([new ValidationFailure(IfMatchHeader, "If-Match must be an entity tag such as \"3\" (the order's version).")]);
    }
}
