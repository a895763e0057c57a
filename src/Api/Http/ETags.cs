using System.Globalization;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace OrdersEs.Api.Http;

/// <summary>Entity tags of aggregates: the version as a quoted string (<c>"3"</c>), always strong.</summary>
public static class ETags
{
    public const string IfMatchHeader = "If-Match";

    public static string For(int version) => $"\"{version.ToString(CultureInfo.InvariantCulture)}\"";

    /// <summary>200 with <paramref name="body"/> and the <c>ETag</c> of <paramref name="version"/>: the answer of every command on an existing aggregate.</summary>
    public static Ok<TBody> Ok<TBody>(HttpContext context, int version, TBody body)
    {
        context.Response.Headers.ETag = For(version);
        return TypedResults.Ok(body);
    }

    /// <summary>The <c>If-Match</c> condition of a request: null when absent; a 400 when it is not <c>*</c> or a list of entity tags.</summary>
    public static IfMatch? ParseIfMatch(StringValues header)
    {
        if (StringValues.IsNullOrEmpty(header)) return null;
        if (!EntityTagHeaderValue.TryParseStrictList(header, out var tags) || tags.Count == 0
            || (tags.Count > 1 && tags.Any(t => t.Equals(EntityTagHeaderValue.Any))))
            throw new ValidationException([new ValidationFailure(IfMatchHeader, "If-Match must be * or a list of entity tags such as \"3\" (the version).")]);
        return new IfMatch(header.ToString(), tags.ToArray());
    }
}

/// <summary>
/// An <c>If-Match</c> precondition (RFC 9110 13.1.1): <c>*</c> matches any existing resource, otherwise one of the
/// tags must match the current one by strong comparison, so a weak tag (<c>W/"3"</c>) never does.
/// </summary>
public sealed record IfMatch(string Header, IReadOnlyList<EntityTagHeaderValue> Tags)
{
    public bool Matches(int version)
    {
        var current = new EntityTagHeaderValue(ETags.For(version));
        return Tags.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, useStrongComparison: true));
    }
}
