using System.Collections.Concurrent;
using System.Diagnostics;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.ReadModels.Orders;

namespace OrdersEs.Bench.Scenarios;

/// <summary>The read side: catch-up of <c>orders_view</c> from position 0, and freshness under a steady command rate.</summary>
public static class ProjectionScenarios
{
    /// <summary>Writes <paramref name="events"/> order events (10 per order), then times the runner from 0 to the head.</summary>
    public static async Task<Figure> CatchUpAsync(BenchDatabase databases, int events, int rounds)
    {
        var serializer = BenchKernel.Serializer();
        await using var database = new EventStoreDatabase(BenchDatabase.Store(await databases.CreateAsync("catchup")), [new OrdersViewSchema()]);
        var store = new EfCoreEventStore(database, BenchKernel.Envelopes(serializer));
        var orders = new EventSourcedRepository<Order>(store, serializer, () => new Order());
        await Comparison.ThroughputAsync(8, events / 10 / 8, async (writer, i) =>
        {
            var order = Order.Place($"o-{writer}-{i}", "customer", "EUR", [new OrderLine("A", 1, 100)]);
            for (var line = 0; line < 9; line++) order.AddLine(new OrderLine($"L{line}", line + 1, 50));
            await orders.SaveAsync(order);
        });
        var head = await HeadAsync(store);

        var runs = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var projection = new OrdersViewProjection(database, new EfCoreCheckpointStore(database, TimeProvider.System), serializer);
            await projection.ResetAsync(CancellationToken.None);
            var monitor = new ProjectionMonitor(TimeProvider.System);
            using var runner = new ProjectionRunner(projection, store, new EventStoreSignal(), new InProcessProjectionLease(), monitor,
                new ProjectionOptions { BatchSize = 1000 });
            var clock = Stopwatch.StartNew();
            await runner.StartAsync(CancellationToken.None);
            await monitor.WaitUntilAsync(_ => Task.FromResult(monitor.Find(projection.Name)!.Checkpoint >= head), TimeSpan.FromMinutes(10), CancellationToken.None);
            runs.Add(head.Position / clock.Elapsed.TotalSeconds);
            await runner.StopAsync(CancellationToken.None);
        }
        var figure = new Figure($"catch-up of orders_view over {head.Position:N0} events", "OrdersViewProjection", "events/s",
            Comparison.Median(runs), runs.ToArray(), 1, true);
        Console.WriteLine($"  {figure.Scenario,-44} {figure.Contender,-28} {figure.Median,14:N1} {figure.Unit}");
        return figure;
    }

    /// <summary>
    /// Issues commands at a steady rate while the runner projects; freshness is the time from a command's commit
    /// (its save returned) to the commit of the projection batch that applied it. Returns p50 and p99 in ms.
    /// </summary>
    public static async Task<IReadOnlyList<Figure>> FreshnessAsync(BenchDatabase databases, int commandsPerSecond, TimeSpan duration)
    {
        var serializer = BenchKernel.Serializer();
        var signal = new EventStoreSignal();
        await using var database = new EventStoreDatabase(BenchDatabase.Store(await databases.CreateAsync("fresh")), [new OrdersViewSchema()]);
        var store = new EfCoreEventStore(database, BenchKernel.Envelopes(serializer), null, signal);
        var orders = new EventSourcedRepository<Order>(store, serializer, () => new Order());
        var committedAt = new ConcurrentDictionary<string, long>();
        var latencies = new ConcurrentBag<double>();
        var projection = new TimedProjection(
            new OrdersViewProjection(database, new EfCoreCheckpointStore(database, TimeProvider.System), serializer), committedAt, latencies);
        var monitor = new ProjectionMonitor(TimeProvider.System);
        await database.EnsureSchemaAsync();
        using var runner = new ProjectionRunner(projection, store, signal, new InProcessProjectionLease(), monitor);
        await runner.StartAsync(CancellationToken.None);

        var interval = TimeSpan.FromSeconds(1.0 / commandsPerSecond);
        var total = (int)(duration.TotalSeconds * commandsPerSecond);
        var clock = Stopwatch.StartNew();
        var inFlight = new List<Task>();
        for (var i = 0; i < total; i++)
        {
            var due = interval * i;
            if (clock.Elapsed < due) await Task.Delay(due - clock.Elapsed);
            var id = $"f-{i}";
            inFlight.Add(Task.Run(async () =>
            {
                var order = Order.Place(id, "customer", "EUR", [new OrderLine("A", 1, 100)]);
                var stored = await orders.SaveAsync(order);
                committedAt[stored[0].EventId] = Stopwatch.GetTimestamp();
            }));
        }
        await Task.WhenAll(inFlight);
        var head = await HeadAsync(store);
        await monitor.WaitUntilAsync(_ => Task.FromResult(monitor.Find(projection.Name)!.Checkpoint >= head), TimeSpan.FromSeconds(30), CancellationToken.None);
        await runner.StopAsync(CancellationToken.None);

        var samples = latencies.ToArray();
        var scenario = $"freshness at {commandsPerSecond} commands/s ({samples.Length:N0} samples)";
        Figure Of(string name, double value) => new(scenario, name, "ms", value, samples, 1, false);
        var figures = new[] { Of("p50 commit -> read model", Comparison.Percentile(samples, 50)), Of("p99 commit -> read model", Comparison.Percentile(samples, 99)) };
        foreach (var f in figures) Console.WriteLine($"  {f.Scenario,-44} {f.Contender,-28} {f.Median,14:N1} {f.Unit}");
        return figures;
    }

    private static async Task<GlobalCheckpoint> HeadAsync(IEventStore store)
    {
        var checkpoint = GlobalCheckpoint.Start;
        while (true)
        {
            var batch = await store.ReadAllAsync(checkpoint, 10_000);
            if (batch.Count == 0) return checkpoint;
            checkpoint = batch[^1].Checkpoint;
        }
    }

    /// <summary>Wraps a projection to time each event from its command's commit to its batch's commit.</summary>
    private sealed class TimedProjection(IProjection inner, ConcurrentDictionary<string, long> committedAt, ConcurrentBag<double> latencies) : IProjection
    {
        public string Name => inner.Name;

        public Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken) => inner.LoadCheckpointAsync(cancellationToken);

        public async Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken)
        {
            var reached = await inner.ApplyAsync(batch, from, cancellationToken);
            var now = Stopwatch.GetTimestamp();
            foreach (var envelope in batch)
            {
                // A save returns a moment after its commit; spin briefly for the writer to record it.
                var spin = new SpinWait();
                long committed;
                while (!committedAt.TryGetValue(envelope.EventId, out committed) && spin.Count < 1000) spin.SpinOnce();
                if (committed != 0) latencies.Add(Math.Max(0, Stopwatch.GetElapsedTime(committed, now).TotalMilliseconds));
            }
            return reached;
        }

        public Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken) =>
            inner.SkipAsync(parked, from, cancellationToken);

        public Task ResetAsync(CancellationToken cancellationToken) => inner.ResetAsync(cancellationToken);
    }
}
