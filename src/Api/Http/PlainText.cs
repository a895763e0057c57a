using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using FluentValidation.Results;

namespace OrdersEs.Api.Http;

/// <summary>
/// The one rule for text the API accepts: no C0 control character (U+0000-U+001F) and no unpaired surrogate.
/// PostgreSQL refuses NUL in text and UTF-8 has no encoding of a lone surrogate, so text that breaks this rule
/// could be accepted by one provider and fail in another store or projection; it is a 400 instead.
/// </summary>
public static class PlainText
{
    public const string Rule = "must not contain control characters (U+0000-U+001F) or unpaired surrogates.";

    public static bool IsPlain(ReadOnlySpan<char> value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c < ' ') return false;
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 == value.Length || !char.IsLowSurrogate(value[i + 1])) return false;
                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Checks the route values and query parameters of every request, before any endpoint runs: a failure is a
    /// 400 naming the parameter (or <c>path</c> when no route matched).
    /// </summary>
    public static Task Middleware(HttpContext context, RequestDelegate next)
    {
        List<ValidationFailure>? failures = null;
        foreach (var (name, value) in context.Request.RouteValues)
            if (value is string text && !IsPlain(text)) (failures ??= []).Add(new ValidationFailure(name, $"{name} {Rule}"));
        if (failures is null && !IsPlain(context.Request.Path.Value))
            (failures ??= []).Add(new ValidationFailure("path", $"The path {Rule}"));
        foreach (var (name, values) in context.Request.Query)
        {
            if (!IsPlain(name) || values.Any(v => !IsPlain(v)))
                (failures ??= []).Add(new ValidationFailure(IsPlain(name) ? name : "query", $"Query parameter {Rule}"));
        }
        if (failures is not null) throw new ValidationException(failures);
        return next(context);
    }
}

/// <summary>Reads every JSON string of a request body under the <see cref="PlainText"/> rule (a 400 naming the member).</summary>
public sealed class PlainTextJsonConverter : JsonConverter<string>
{
    public override bool HandleNull => false;

    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException(); // STJ names the member and says "wrong type"
        return Check(reader.GetString()!);
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        Check(reader.GetString()!);

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WritePropertyName(value);

    private static string Check(string value) => PlainText.IsPlain(value) ? value : throw new PlainTextException();
}

/// <summary>A JSON string broke the <see cref="PlainText"/> rule; the serializer adds the member's path.</summary>
public sealed class PlainTextException() : JsonException(PlainText.Rule);
