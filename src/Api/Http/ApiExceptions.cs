using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Api.Http;

/// <summary>The aggregate does not exist, or belongs to another tenant (a 404 problem).</summary>
public sealed class AggregateNotFoundException(AggregateName aggregate, string id) : Exception($"{aggregate.Type} '{id}' does not exist.")
{
    public AggregateName Aggregate { get; } = aggregate;
    public string Id { get; } = id;
}

/// <summary>A rule of the aggregate refused the command (a 409 problem of type <c>{aggregate}-rule</c>).</summary>
public sealed class AggregateRuleException(AggregateName aggregate, string id, DomainRuleException rule) : Exception(rule.Message, rule)
{
    public AggregateName Aggregate { get; } = aggregate;
    public string Id { get; } = id;
}

/// <summary>Another request changed the aggregate between this request's read and its write (a 409 problem).</summary>
public sealed class AggregateConcurrencyException(AggregateName aggregate, ConcurrencyException conflict) : Exception(conflict.Message, conflict)
{
    public AggregateName Aggregate { get; } = aggregate;
    public ConcurrencyException Conflict { get; } = conflict;
}

/// <summary>The request's <c>If-Match</c> does not match the aggregate's entity tag (a 412 problem).</summary>
public sealed class PreconditionFailedException(AggregateName aggregate, string id, string ifMatch, int actualVersion)
    : Exception($"If-Match {ifMatch} does not match the current entity tag \"{actualVersion}\" of {aggregate.Type} '{id}'.")
{
    public AggregateName Aggregate { get; } = aggregate;
    public string Id { get; } = id;
    public string IfMatch { get; } = ifMatch;
    public int ActualVersion { get; } = actualVersion;
}

/// <summary>An <c>Idempotency-Key</c> came back with another body (a 422 problem).</summary>
public sealed class IdempotencyKeyReusedException(string key)
    : Exception($"Idempotency-Key '{key}' was first used with another request body.");

/// <summary>The first request with an <c>Idempotency-Key</c> is still running after the wait (a 409 problem).</summary>
public sealed class IdempotencyInProgressException(string key)
    : Exception($"The first request with Idempotency-Key '{key}' has not finished yet; retry shortly.");
