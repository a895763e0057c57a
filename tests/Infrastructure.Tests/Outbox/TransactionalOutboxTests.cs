using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Tests.Messaging;
using Xunit;
using static OrdersEs.Infrastructure.Tests.Outbox.OutboxTestKit;

namespace OrdersEs.Infrastructure.Tests.Outbox;

public sealed class TransactionalOutboxTests
{
    [Fact]
    public async Task Seed_usage_publishes_an_enqueued_envelope()
    {
        var published = new List<StoredEventEnvelope>();
        async Task Publish(StoredEventEnvelope envelope)
        {
            await Task.Yield();
            lock (published) published.Add(envelope);
        }

        await using var outbox = new TransactionalOutbox(Publish, maxAttempts: 5);
        await outbox.StartAsync();
        var envelope = TestEnvelopes.Happened();
        await outbox.EnqueueAsync(envelope);

        await EventuallyAsync(() => { lock (published) return published.Count == 1; }, "the envelope published");
        Assert.Same(envelope, published[0]);
        await EventuallyAsync(async () => await outbox.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 0), "an empty outbox");
    }

    [Fact]
    public async Task Failing_publish_is_retried_then_dead_lettered_after_max_attempts()
    {
        var attempts = 0;
        var options = FastOptions();
        await using var outbox = new TransactionalOutbox((_, _) =>
        {
            Interlocked.Increment(ref attempts);
            throw new InvalidOperationException("broker says no");
        }, maxAttempts: 3, options);
        await outbox.StartAsync();
        var envelope = TestEnvelopes.Happened();
        await outbox.EnqueueAsync(envelope);

        await EventuallyAsync(async () => (await outbox.Monitor.GetCountsAsync()).DeadLettered == 1, "the dead letter");
        Assert.Equal(3, Volatile.Read(ref attempts));
        var letter = Assert.Single(await outbox.Monitor.GetDeadLettersAsync());
        Assert.Equal((envelope.EventId, 3, "broker says no"), (letter.EventId, letter.Attempts, letter.LastError));
    }
}
