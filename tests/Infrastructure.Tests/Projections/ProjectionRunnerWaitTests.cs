using System.Collections.Concurrent;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.Tests.EventStore;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Projections;

/// <summary>How a caught-up runner waits: it does not query an idle store (the held-horizon case is in <see cref="PostgresGapTests"/>).</summary>
public sealed class ProjectionRunnerWaitTests
{
    [Fact]
    public async Task A_caught_up_runner_woken_with_nothing_new_queries_once_and_then_waits_for_a_signal_or_its_poll()
    {
        await using var fixture = await ProjectionFixture.MemoryAsync();
        var store = new CountingStore(fixture.Store);
        var seen = new ConcurrentQueue<string>();
        var projection = new FunctionProjection("idle", (e, _) => { seen.Enqueue(e.AggregateId); return Task.CompletedTask; });
        var runner = new ProjectionRunner(projection, store, fixture.Signal, fixture.Lease, fixture.Monitor,
            ProjectionFixture.FastOptions with { PollInterval = TimeSpan.FromMinutes(5) });
        await runner.StartAsync(CancellationToken.None);
        try
        {
            await fixture.TallyAsync("first");
            await WaitUntilAsync(() => seen.Count == 1, "the first event projected");
            await Task.Delay(200);

            // Another instance's notification of events this runner has already read: one look finds nothing new, or held.
            var before = store.Calls;
            fixture.Signal.Notify();
            await Task.Delay(1500);
            Assert.InRange(store.Calls - before, 1, 2);

            await fixture.TallyAsync("second");
            await WaitUntilAsync(() => seen.Count == 2, "the second event projected on its signal");
        }
        finally
        {
            await ProjectionFixture.StopAsync(runner);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for: {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Counts the runner's reads of the global order and its lag probes.</summary>
    private sealed class CountingStore(IEventStore inner) : DelegatingEventStore(inner)
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public override Task<IReadOnlyList<StoredEventEnvelope>> ReadAllAsync(GlobalCheckpoint after, int limit, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            return base.ReadAllAsync(after, limit, cancellationToken);
        }

        public override Task<EventLag> LagAsync(GlobalCheckpoint after, int cap, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            return base.LagAsync(after, cap, cancellationToken);
        }
    }
}
