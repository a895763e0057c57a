using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using Xunit;

namespace OrdersEs.Infrastructure.Tests;

/// <summary>
/// Reads of the global order in tests that run beside others. On PostgreSQL a transaction still open anywhere on
/// the server (another test's) holds the gap-safe horizon back for a moment: a short read there means "not yet".
/// </summary>
public static class Settled
{
    /// <summary>Reads after <paramref name="after"/> in batches of <paramref name="batchSize"/> until <paramref name="expected"/> events came (10 s at most).</summary>
    public static async Task<List<StoredEventEnvelope>> ReadAllAsync(IEventStore store, GlobalCheckpoint after, int expected, int batchSize = 1000)
    {
        var seen = new List<StoredEventEnvelope>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (seen.Count < expected)
        {
            var batch = await store.ReadAllAsync(after, batchSize);
            Assert.True(batch.Count <= batchSize);
            if (batch.Count == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, $"read-all returned {seen.Count} of {expected} events");
                await Task.Delay(20);
                continue;
            }
            seen.AddRange(batch);
            after = batch[^1].Checkpoint;
        }
        Assert.Empty(await store.ReadAllAsync(after, batchSize));
        return seen;
    }
}
