using System.ComponentModel;
using System.Globalization;
using System.Text.RegularExpressions;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;

namespace OrdersEs.Api.Http;

/// <summary>
/// Reads an aggregate as it was at a point of its history, rebuilt from its events (not from the read model), for the
/// caller's tenant only: another tenant's aggregate, an unknown one and a point before it existed are all null (a 404).
/// </summary>
public sealed class AggregateHistory<T>(EventSourcedRepository<T> repository) where T : AggregateRoot
{
    /// <summary>The aggregate at <paramref name="point"/>, answered through <paramref name="map"/>; null when there is none for the caller.</summary>
    public async ValueTask<TResponse?> ReadAsync<TResponse>(
        string id, HistoryPoint point, ApiRequestContext request, Func<HistoricalAggregate<T>, TResponse> map, CancellationToken cancellationToken)
        where TResponse : class
    {
        if (id.Length > AggregateRoot.MaxIdLength) return null;
        var found = await repository.LoadAtAsync(id, point, cancellationToken);
        return found is not null && request.Owns(found.TenantId) ? map(found) : null;
    }
}

/// <summary>
/// Which state of an aggregate a <c>GET /api/{aggregates}/{id}</c> answers: the read model's (waiting, bounded, for
/// <see cref="MinVersion"/> when given), or, with a <see cref="Point"/>, the state at that point of its history.
/// </summary>
public sealed record ReadAt(int? MinVersion, HistoryPoint? Point)
{
    /// <summary>
    /// 200 with <paramref name="body"/> and the <c>ETag</c> of <paramref name="version"/>. A historical answer is the
    /// caller's tenant's and may change (a version past the end, a time still to come), so it is sent
    /// <c>Cache-Control: private, no-cache</c> and <c>Vary: X-Tenant-Id</c>: a browser may keep it, keyed by tenant, but
    /// asks again before reusing it, and no shared cache stores it.
    /// </summary>
    public Ok<TBody> Ok<TBody>(HttpContext context, int version, TBody body)
    {
        if (Point is not null)
        {
            context.Response.Headers.CacheControl = "private, no-cache";
            context.Response.Headers.Vary = ApiRequestContext.TenantHeader;
        }
        return ETags.Ok(context, version, body);
    }
}

/// <summary>
/// The query parameters of a <c>GET /api/{aggregates}/{id}</c> (bound with <c>[AsParameters]</c>, so the OpenAPI
/// document lists and describes them); <see cref="Parse"/> checks them and answers the <see cref="ReadAt"/>.
/// </summary>
public sealed partial class ReadAtParameters
{
    public const string MinVersionName = "minVersion";
    public const string AtVersionName = "atVersion";
    public const string AsOfName = "asOf";

    private const string AsOfRule = "asOf must be an RFC 3339 date-time with an offset, such as 2026-12-07T10:00:00Z or 2026-12-07T12:00:00%2B02:00 (a '+' sent unencoded in a query arrives as a space, which is read as '+').";

    [FromQuery(Name = MinVersionName)]
    [Range(1, int.MaxValue)] // for the OpenAPI document (minimum: 1); Parse answers the 400
    [Description("Read your own write: wait up to 5 s for the read model to reach this version (an integer of at least 1), then answer what it has. Not with atVersion or asOf.")]
    public int? MinVersion { get; init; }

    [FromQuery(Name = AtVersionName)]
    [Range(1, int.MaxValue)] // for the OpenAPI document (minimum: 1); Parse answers the 400
    [Description("The state after this version (an integer of at least 1), rebuilt from the events; past the last version, the latest state. The body's version (and the ETag) is the version it stopped at. 404 if it did not exist. Not with minVersion or asOf.")]
    public int? AtVersion { get; init; }

    [FromQuery(Name = AsOfName)]
    [Description("The state as of this time, rebuilt from the events up to the last one that occurred at or before it: an RFC 3339 date-time with an offset (2026-12-07T10:00:00Z, 2026-12-07T12:00:00+02:00, '+' encoded as %2B). The body's version (and the ETag) is the version it stopped at. 404 if it did not exist yet. Not with minVersion or atVersion.")]
    public string? AsOf { get; init; }

    /// <summary>The state to read; a 400 (<see cref="ValidationException"/>) naming each parameter in the wrong.</summary>
    public ReadAt Parse()
    {
        var failures = new List<ValidationFailure>();
        if (MinVersion < 1) failures.Add(new ValidationFailure(MinVersionName, "minVersion must be an integer of at least 1."));
        if (AtVersion < 1) failures.Add(new ValidationFailure(AtVersionName, "atVersion must be an integer of at least 1."));
        DateTimeOffset? asOf = null;
        if (AsOf is not null)
        {
            if (TryParseRfc3339(AsOf, out var time)) asOf = time;
            else failures.Add(new ValidationFailure(AsOfName, AsOfRule));
        }
        var given = new[] { (Name: MinVersionName, Given: MinVersion is not null), (Name: AtVersionName, Given: AtVersion is not null), (Name: AsOfName, Given: AsOf is not null) }
            .Where(p => p.Given).Select(p => p.Name).ToArray();
        if (given.Length > 1)
            failures.AddRange(given.Select(name => new ValidationFailure(name, $"Give at most one of minVersion, atVersion and asOf; this request gives {string.Join(" and ", given)}.")));
        if (failures.Count > 0) throw new ValidationException(failures);

        var point = AtVersion is { } version ? HistoryPoint.AtVersion(version) : asOf is { } instant ? HistoryPoint.AsOf(instant) : null;
        return new ReadAt(MinVersion, point);
    }

    /// <summary>
    /// RFC 3339 section 5.6 <c>date-time</c>: <c>T</c> or <c>t</c>, seconds, an optional fraction (up to 9 digits; past
    /// 7, the 100 ns ticks, it is cut), and <c>Z</c>, <c>z</c> or a numeric offset, which is required. A space in the
    /// offset's sign is a <c>+</c> that the query string decoded as a space.
    /// </summary>
    internal static bool TryParseRfc3339(string value, out DateTimeOffset time)
    {
        time = default;
        var match = Rfc3339().Match(value);
        if (!match.Success) return false;
        var fraction = match.Groups["fraction"].Value;
        if (fraction.Length > 8) fraction = fraction[..8]; // the dot and 7 digits
        var offset = match.Groups["offset"].Value switch
        {
            "Z" or "z" => "+00:00",
            var numeric when numeric[0] == ' ' => "+" + numeric[1..],
            var numeric => numeric,
        };
        var normalized = $"{match.Groups["date"].Value}T{match.Groups["time"].Value}{fraction}{offset}";
        return DateTimeOffset.TryParseExact(normalized, ["yyyy-MM-dd'T'HH:mm:sszzz", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz"],
            CultureInfo.InvariantCulture, DateTimeStyles.None, out time);
    }

    [GeneratedRegex(@"^(?<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?<time>[0-9]{2}:[0-9]{2}:[0-9]{2})(?<fraction>\.[0-9]{1,9})?(?<offset>[Zz]|[+\- ][0-9]{2}:[0-9]{2})$")]
    private static partial Regex Rfc3339();
}
