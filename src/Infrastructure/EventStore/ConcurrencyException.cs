namespace OrdersEs.Infrastructure.EventStore;

/// <summary>An append found the stream at another version than the caller expected.</summary>
public sealed class ConcurrencyException(string aggregateId, int expectedVersion, int actualVersion)
    : Exception($"Stream '{aggregateId}' is at version {actualVersion}, expected {expectedVersion}.")
{
    public string AggregateId { get; } = aggregateId;
    public int ExpectedVersion { get; } = expectedVersion;
    public int ActualVersion { get; } = actualVersion;
}
