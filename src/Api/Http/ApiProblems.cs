using System.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace OrdersEs.Api.Http;

/// <summary>One kind of failure the API answers with: its stable problem <c>type</c>, title and status.</summary>
public sealed record ProblemKind(string Type, string Title, int Status);

/// <summary>The catalogue of RFC 9457 problems this API returns; every problem is built here.</summary>
public static class ApiProblems
{
    private const string Base = "https://orderses.dev/problems/";

    public static readonly ProblemKind Validation = new(Base + "validation", "The request is not valid.", StatusCodes.Status400BadRequest);
    public static readonly ProblemKind Unauthorized = new(Base + "unauthorized", "A valid X-Admin-Key header is required.", StatusCodes.Status401Unauthorized);
    public static readonly ProblemKind NotFound = new(Base + "not-found", "The resource does not exist.", StatusCodes.Status404NotFound);
    public static readonly ProblemKind Rule = new(Base + "rule", "The resource's state does not allow this.", StatusCodes.Status409Conflict);
    public static readonly ProblemKind Concurrency = new(Base + "concurrency", "The resource was changed by another request.", StatusCodes.Status409Conflict);
    public static readonly ProblemKind DeadLetterSkipped = new(Base + "dead-letter-skipped", "The dead letter was skipped already.", StatusCodes.Status409Conflict);
    public static readonly ProblemKind DeadLetterNotFirst = new(Base + "dead-letter-not-first", "An earlier dead letter of the aggregate must be settled first.", StatusCodes.Status409Conflict);
    public static readonly ProblemKind ProjectionNotHeld = new(Base + "projection-not-held", "The projection is not held at that event.", StatusCodes.Status409Conflict);
    public static readonly ProblemKind IdempotencyInProgress = new(Base + "idempotency-in-progress", "A request with this Idempotency-Key is still running.", StatusCodes.Status409Conflict);
    public static readonly ProblemKind PreconditionFailed = new(Base + "precondition-failed", "If-Match does not match the resource's version.", StatusCodes.Status412PreconditionFailed);
    public static readonly ProblemKind PayloadTooLarge = new(Base + "payload-too-large", "The request body is too large.", StatusCodes.Status413PayloadTooLarge);
    public static readonly ProblemKind UnsupportedMediaType = new(Base + "unsupported-media-type", "The request body must be application/json.", StatusCodes.Status415UnsupportedMediaType);
    public static readonly ProblemKind IdempotencyKeyReused = new(Base + "idempotency-key-reused", "The Idempotency-Key was used with another request body.", StatusCodes.Status422UnprocessableEntity);
    public static readonly ProblemKind Unavailable = new(Base + "unavailable", "A backing service is unavailable; retry later.", StatusCodes.Status503ServiceUnavailable);
    public static readonly ProblemKind StoredEventUnreadable = new(Base + "stored-event-unreadable", "A stored event of this resource cannot be decoded.", StatusCodes.Status500InternalServerError);
    public static readonly ProblemKind Internal = new(Base + "internal", "The server failed to handle the request.", StatusCodes.Status500InternalServerError);

    /// <summary>A problem of <paramref name="kind"/> carrying the request's trace id.</summary>
    public static ProblemDetails Create(HttpContext context, ProblemKind kind, string? detail = null)
    {
        var problem = new ProblemDetails { Type = kind.Type, Title = kind.Title, Status = kind.Status, Detail = detail, Instance = context.Request.Path };
        AddTraceId(context, problem);
        return problem;
    }

    /// <summary>A 400 validation problem listing the invalid fields (camelCase, as on the wire).</summary>
    public static HttpValidationProblemDetails CreateValidation(HttpContext context, IDictionary<string, string[]> errors)
    {
        var problem = new HttpValidationProblemDetails(errors)
        {
            Type = Validation.Type,
            Title = Validation.Title,
            Status = Validation.Status,
            Instance = context.Request.Path,
        };
        AddTraceId(context, problem);
        return problem;
    }

    // The problems of one aggregate type: the kinds above with the type named in the title ("The order does not exist."),
    // the id in the detail and both as extensions (aggregateType, aggregateId), so a client need not parse prose.

    /// <summary>A 404 for an aggregate that does not exist for the caller's tenant.</summary>
    public static ProblemDetails AggregateNotFound(HttpContext context, AggregateName aggregate, string id) =>
        ForAggregate(context, NotFound with { Title = $"The {aggregate.Prose} does not exist." }, aggregate, id, $"{aggregate.Type} '{id}' does not exist.");

    /// <summary>A 409 for a rule the aggregate refused; its type is the aggregate's own (<c>order-rule</c>).</summary>
    public static ProblemDetails RuleViolation(HttpContext context, AggregateName aggregate, string id, string rule) =>
        ForAggregate(context, new ProblemKind($"{Base}{aggregate.Kebab}-rule", $"The {aggregate.Prose}'s state does not allow this.", StatusCodes.Status409Conflict),
            aggregate, id, rule);

    /// <summary>A 409 for a write that lost the race against another request on the same aggregate.</summary>
    public static ProblemDetails ConcurrentChange(HttpContext context, AggregateName aggregate, string id, int expectedVersion, int actualVersion)
    {
        var problem = ForAggregate(context, Concurrency with { Title = $"The {aggregate.Prose} was changed by another request." }, aggregate, id,
            $"Another request changed {aggregate.Type} '{id}' between this request's read and its write; reload it and retry.");
        problem.Extensions["expectedVersion"] = expectedVersion;
        problem.Extensions["actualVersion"] = actualVersion;
        return problem;
    }

    /// <summary>A 412 for an <c>If-Match</c> that does not match the aggregate's current entity tag.</summary>
    public static ProblemDetails PreconditionFailedOn(HttpContext context, AggregateName aggregate, string id, string ifMatch, int actualVersion, string detail)
    {
        var problem = ForAggregate(context, PreconditionFailed with { Title = $"If-Match does not match the {aggregate.Prose}'s version." }, aggregate, id, detail);
        problem.Extensions["ifMatch"] = ifMatch;
        problem.Extensions["actualVersion"] = actualVersion;
        return problem;
    }

    private static ProblemDetails ForAggregate(HttpContext context, ProblemKind kind, AggregateName aggregate, string id, string detail)
    {
        var problem = Create(context, kind, detail);
        problem.Extensions["aggregateType"] = aggregate.Type;
        problem.Extensions["aggregateId"] = id;
        return problem;
    }

    /// <summary>
    /// Gives problems written by the framework (status-code pages: unknown route, wrong method, unsupported media
    /// type) this API's type and title for their status, and the trace id.
    /// </summary>
    internal static void Complete(HttpContext context, ProblemDetails problem)
    {
        if (problem.Type is null || !problem.Type.StartsWith(Base, StringComparison.Ordinal))
        {
            if (ByStatus.TryGetValue(problem.Status ?? 0, out var kind))
            {
                problem.Type = kind.Type;
                problem.Title = kind.Title;
            }
            problem.Instance ??= context.Request.Path;
        }
        AddTraceId(context, problem);
    }

    private static readonly Dictionary<int, ProblemKind> ByStatus = new[]
    {
        Validation, Unauthorized, NotFound, PreconditionFailed, PayloadTooLarge, UnsupportedMediaType, IdempotencyKeyReused, Unavailable, Internal,
    }.ToDictionary(k => k.Status);

    internal static void AddTraceId(HttpContext context, ProblemDetails problem) =>
        problem.Extensions.TryAdd("traceId", Activity.Current?.Id ?? context.TraceIdentifier);
}
