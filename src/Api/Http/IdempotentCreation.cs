using System.Security.Cryptography;
using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace OrdersEs.Api.Http;

/// <summary>The answer of a create: the body, where the new aggregate lives and its entity tag (the first answer, or its replay).</summary>
public sealed record CreatedAnswer<TBody>(TBody Body, string Location, string ETag)
{
    /// <summary>201 with <c>Location</c> and <c>ETag</c>.</summary>
    public Created<TBody> ToResult(HttpContext http)
    {
        http.Response.Headers.ETag = ETag;
        return TypedResults.Created(Location, Body);
    }
}

/// <summary>
/// The <c>Idempotency-Key</c> of a create: its header, its limits, and the hash of the body a repeat must match.
/// <see cref="AggregateWriter{T}.CreateAsync"/> claims it and stores the answer with the events.
/// </summary>
public static class IdempotencyKeys
{
    public const string Header = "Idempotency-Key";
    public const int MaxLength = 200;

    /// <summary>The body as the API read it, hashed: the same key with another body is a 422.</summary>
    public static string Hash<TBody>(TBody body, JsonSerializerOptions options) =>
        Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(body, options)));

    /// <summary>1-200 characters of plain text, reported under the header's name.</summary>
    public static IRuleBuilderOptions<T, string?> ValidIdempotencyKey<T>(this IRuleBuilder<T, string?> rule) => rule
        .Length(1, MaxLength)
        .Must(key => PlainText.IsPlain(key)).WithMessage($"{Header} {PlainText.Rule}")
        .OverridePropertyName(Header);
}
