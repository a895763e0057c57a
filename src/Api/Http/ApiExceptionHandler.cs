using System.Data.Common;
using System.Text.Json;
using System.Text.RegularExpressions;
using FluentValidation;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Idempotency;

namespace OrdersEs.Api.Http;

/// <summary>
/// The one place failures become RFC 9457 problems: validation and binding errors 400, unknown aggregates 404,
/// domain rules and concurrency 409, If-Match 412, body size 413, content type 415, idempotency 422, outages 503,
/// an undecodable stored event 500 naming the event and the member.
/// Anything else is a 500 problem without details; no problem ever carries a stack trace.
/// </summary>
public sealed partial class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested)
            return true; // the client went away: nobody to answer

        var problem = ToProblem(context, exception);
        // The failure's log line and answer carry the request's correlation id, as its successes do.
        var correlation = ApiRequestContext.CorrelationOf(context);
        if (correlation is not null) context.Response.Headers[ApiRequestContext.CorrelationHeader] = correlation;
        using var scope = correlation is null ? null : logger.BeginScope(new Dictionary<string, object?> { ["CorrelationId"] = correlation });
        if (problem.Status >= 500) LogServerFailure(logger, problem.Status, context.Request.Method, context.Request.Path, exception);
        else LogClientFailure(logger, problem.Status, context.Request.Method, context.Request.Path, exception.Message);

        context.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        if (problem.Status == StatusCodes.Status503ServiceUnavailable) context.Response.Headers.RetryAfter = "5";
        // The server will not read a body over the limit, so it closes the connection: say so, or a client reuses it.
        if (problem.Status == StatusCodes.Status413PayloadTooLarge) context.Response.Headers.Connection = "close";
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }

    private static ProblemDetails ToProblem(HttpContext context, Exception exception) => exception switch
    {
        ValidationException validation => ApiProblems.CreateValidation(context, validation.Errors
            .GroupBy(e => WireName(e.PropertyName))
            .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).Distinct().ToArray())),
        BadHttpRequestException badRequest => FromBadRequest(context, badRequest),
        AggregateNotFoundException notFound => ApiProblems.AggregateNotFound(context, notFound.Aggregate, notFound.Id),
        AggregateRuleException rule => ApiProblems.RuleViolation(context, rule.Aggregate, rule.Id, rule.Message),
        AggregateConcurrencyException concurrency => ApiProblems.ConcurrentChange(context, concurrency.Aggregate,
            concurrency.Conflict.AggregateId, concurrency.Conflict.ExpectedVersion, concurrency.Conflict.ActualVersion),
        PreconditionFailedException precondition => ApiProblems.PreconditionFailedOn(context, precondition.Aggregate, precondition.Id,
            precondition.IfMatch, precondition.ActualVersion, precondition.Message),
        // Raised outside AggregateWriter: the same problems without an aggregate type.
        DomainRuleException rule => ApiProblems.Create(context, ApiProblems.Rule, rule.Message),
        ConcurrencyException concurrency => WithExtensions(ApiProblems.Create(context, ApiProblems.Concurrency, concurrency.Message),
            ("expectedVersion", concurrency.ExpectedVersion), ("actualVersion", concurrency.ActualVersion)),
        IdempotencyKeyReusedException reused => ApiProblems.Create(context, ApiProblems.IdempotencyKeyReused, reused.Message),
        IdempotencyInProgressException running => ApiProblems.Create(context, ApiProblems.IdempotencyInProgress, running.Message),
        IdempotencyClaimLostException lost => ApiProblems.Create(context, ApiProblems.IdempotencyInProgress, lost.Message),
        // The stream's stored history is the server's problem, not the caller's: say which event and member, and log it.
        EventDecodingException decoding => ApiProblems.Create(context, ApiProblems.StoredEventUnreadable, decoding.Message),
        _ when IsUnavailable(exception) => ApiProblems.Create(context, ApiProblems.Unavailable),
        _ => ApiProblems.Create(context, ApiProblems.Internal),
    };

    private static ProblemDetails FromBadRequest(HttpContext context, BadHttpRequestException exception)
    {
        switch (exception.StatusCode)
        {
            case StatusCodes.Status413PayloadTooLarge:
                return ApiProblems.Create(context, ApiProblems.PayloadTooLarge, $"Request bodies are limited to {RequestBodyLimit.MaxBytes} bytes.");
            case StatusCodes.Status415UnsupportedMediaType:
                return ApiProblems.Create(context, ApiProblems.UnsupportedMediaType, "Send the body as application/json.");
        }
        var (field, message) = exception.InnerException switch
        {
            PlainTextException text => (JsonField(text.Path), text.Message),
            JsonException json => (JsonField(json.Path), "is malformed JSON, has the wrong type or appears twice."),
            _ when BindFailure().Match(exception.Message) is { Success: true } match =>
                (WireName(match.Groups["name"].Value), $"'{match.Groups["value"].Value}' is not a valid {FriendlyType(match.Groups["type"].Value)}."),
            _ when exception.Message.Contains("body", StringComparison.OrdinalIgnoreCase) => ("body", "A JSON request body is required."),
            _ => ("request", "The request could not be read."),
        };
        return ApiProblems.CreateValidation(context, new Dictionary<string, string[]> { [field] = [message] });
    }

    private static ProblemDetails WithExtensions(ProblemDetails problem, params (string Name, object Value)[] extensions)
    {
        foreach (var (name, value) in extensions) problem.Extensions[name] = value;
        return problem;
    }

    /// <summary>
    /// The database or the broker failed, whatever the reason (down, refusing the credentials, out of connections, a
    /// missing database): the request itself was valid, so it is a 503 worth retrying once the operator has looked.
    /// </summary>
    private static bool IsUnavailable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case EventStoreException:
                case DbException:
                case TimeoutException:
                case RabbitMQ.Client.Exceptions.BrokerUnreachableException:
                case RabbitMQ.Client.Exceptions.AlreadyClosedException:
                case RabbitMQ.Client.Exceptions.OperationInterruptedException:
                    return true;
            }
        }
        return false;
    }

    /// <summary><c>Lines[0].Sku</c> as the wire spells it: <c>lines[0].sku</c>.</summary>
    internal static string WireName(string propertyName)
    {
        if (string.IsNullOrEmpty(propertyName)) return "request";
        if (propertyName.Contains('-')) return propertyName; // a header name
        return string.Join('.', propertyName.Split('.').Select(part => part.Length == 0 ? part : char.ToLowerInvariant(part[0]) + part[1..]));
    }

    private static string FriendlyType(string clrName) => clrName.Replace("Nullable<", "").TrimEnd('>', '?') switch
    {
        "int" or "long" or "Int32" or "Int64" => "integer",
        var other => other,
    };

    private static string JsonField(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$") return "body";
        return path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
    }

    [GeneratedRegex("^Failed to bind parameter \"(?<type>.+) (?<name>[^ \"]+)\" from \"(?<value>.*)\"\\.$")]
    private static partial Regex BindFailure();

    [LoggerMessage(Level = LogLevel.Information, Message = "{Status} for {Method} {Path}: {Reason}")]
    private static partial void LogClientFailure(ILogger logger, int? status, string method, PathString path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Status} for {Method} {Path}")]
    private static partial void LogServerFailure(ILogger logger, int? status, string method, PathString path, Exception exception);
}
