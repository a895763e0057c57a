namespace OrdersEs.Api.Http;

/// <summary>The order does not exist, or belongs to another tenant (a 404 problem).</summary>
public sealed class OrderNotFoundException(string orderId) : Exception($"Order '{orderId}' does not exist.")
{
    public string OrderId { get; } = orderId;
}

/// <summary>The request's <c>If-Match</c> does not match the order's entity tag (a 412 problem).</summary>
public sealed class PreconditionFailedException(string ifMatch, int actualVersion)
    : Exception($"If-Match {ifMatch} does not match the current entity tag \"{actualVersion}\".")
{
    public string IfMatch { get; } = ifMatch;
    public int ActualVersion { get; } = actualVersion;
}

/// <summary>An <c>Idempotency-Key</c> came back with another body (a 422 problem).</summary>
public sealed class IdempotencyKeyReusedException(string key)
    : Exception($"Idempotency-Key '{key}' was first used with another request body.");

/// <summary>The first request with an <c>Idempotency-Key</c> is still running after the wait (a 409 problem).</summary>
public sealed class IdempotencyInProgressException(string key)
    : Exception($"The first request with Idempotency-Key '{key}' has not finished yet; retry shortly.");
