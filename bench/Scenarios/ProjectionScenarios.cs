using System.Collections.Concurrent;
using System.Diagnostics;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Messaging;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.ReadModels.Orders;

namespace OrdersEs.Bench.Scenarios;

/// <summary>The read side: catch-up of <c>orders_view</c> from position 0, and freshness under a steady command rate.</summary>
public static class ProjectionScenarios
{
    /// <summary>Writes <paramref name="events"/> order events (10 per order), then times builds of new generations of the read model from 0 to the head.</summary>
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

        // Each round is what a rebuild does in the service: a new blue/green generation built from the first event into a
        // table of its own (resetting the projection would start such a build, not replay the serving generation).
        var projection = new OrdersViewProjection(database, new EfCoreCheckpointStore(database, TimeProvider.System), serializer);
        var runs = new List<double>();
        // One uncounted warm-up round (JIT, caches), as in the other scenarios.
        for (var round = -1; round < rounds; round++)
        {
            var generation = await projection.StartBuildAsync("catch-up benchmark", CancellationToken.None);
            var build = projection.ForGeneration(generation);
            var monitor = new ProjectionMonitor(TimeProvider.System);
            using var runner = new ProjectionRunner(build, store, new EventStoreSignal(), new InProcessProjectionLease(), monitor);
            var clock = Stopwatch.StartNew();
            await runner.StartAsync(CancellationToken.None);
            await monitor.WaitUntilAsync(_ => Task.FromResult(monitor.Find(build.Name)!.Checkpoint >= head), TimeSpan.FromMinutes(10), CancellationToken.None);
            var rate = head.Position / clock.Elapsed.TotalSeconds;
            await runner.StopAsync(CancellationToken.None);
            if (round >= 0) runs.Add(rate);
        }
        var figure = Figure.OfRounds($"catch-up of orders_view over {head.Position:N0} events", "OrdersViewProjection", "events/s", runs, true);
        Console.WriteLine($"  {figure.Scenario,-44} {figure.Contender,-28} {figure.Describe()}");
        return figure;
    }

    public const string FreshnessPrefix = "freshness at";

    /// <summary>The command rates freshness is measured at (issue 16: p99 <= 50 ms at 500/s, <= 100 ms at 2,000/s).</summary>
    public static readonly int[] FreshnessRates = [500, 2_000];
    public const string P99Name = "p99 commit -> read model";

    /// <summary>
    /// Issues commands at a steady rate while the runner projects, beside an outbox dispatcher delivering to a bus that
    /// discards (the service's default setting); freshness is the time from a command's commit
    /// (its save returned) to the commit of the projection batch that applied it. One uncounted warm-up round, then
    /// <paramref name="rounds"/> rounds of <paramref name="duration"/> on the same database and runner; each round gives
    /// its p50, p99 and p99.9 in ms, and each figure is the median of the rounds'.
    /// </summary>
    public static async Task<IReadOnlyList<Figure>> FreshnessAsync(BenchDatabase databases, int commandsPerSecond, TimeSpan duration, int rounds)
    {
        var serializer = BenchKernel.Serializer();
        var signal = new EventStoreSignal();
        await using var database = new EventStoreDatabase(BenchDatabase.Store(await databases.CreateAsync("fresh")), [new OrdersViewSchema()]);
        var store = new EfCoreEventStore(database, BenchKernel.Envelopes(serializer), null, signal);
        var orders = new EventSourcedRepository<Order>(store, serializer, () => new Order());
        var appliedAt = new ConcurrentDictionary<string, long>();
        var projection = new TimedProjection(
            new OrdersViewProjection(database, new EfCoreCheckpointStore(database, TimeProvider.System), serializer), appliedAt);
        var monitor = new ProjectionMonitor(TimeProvider.System);
        await database.EnsureSchemaAsync();
        using var runner = new ProjectionRunner(projection, store, signal, new InProcessProjectionLease(), monitor);
        await runner.StartAsync(CancellationToken.None);
        // As in the service: its outbox dispatcher claims and settles rows beside the projection, in transactions of its own.
        using var dispatcher = new OutboxDispatcher(new EfCoreOutboxStore(database), new EventSourcingPublisher(new DiscardingBus(), "bench"), signal);
        await dispatcher.StartAsync(CancellationToken.None);

        var p50 = new List<double>();
        var p99 = new List<double>();
        var p999 = new List<double>();
        var achieved = new List<double>();
        var samples = 0;
        for (var round = -1; round < rounds; round++)
        {
            appliedAt.Clear();
            var committedAt = new ConcurrentDictionary<string, long>();
            var interval = TimeSpan.FromSeconds(1.0 / commandsPerSecond);
            var total = (int)(duration.TotalSeconds * commandsPerSecond);
            var clock = Stopwatch.StartNew();
            var inFlight = new List<Task>(total);
            for (var i = 0; i < total; i++)
            {
                var due = interval * i;
                // Read once: the clock moves between a check and a subtraction, and Task.Delay refuses a negative wait.
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.Zero) await Task.Delay(wait);
                var id = $"f-{round + 1}-{i}";
                inFlight.Add(Task.Run(async () =>
                {
                    var order = Order.Place(id, "customer", "EUR", [new OrderLine("A", 1, 100)]);
                    var stored = await orders.SaveAsync(order);
                    committedAt[stored[0].EventId] = Stopwatch.GetTimestamp();
                }));
            }
            await Task.WhenAll(inFlight);
            var rate = total / clock.Elapsed.TotalSeconds;
            var head = await HeadAsync(store);
            await monitor.WaitUntilAsync(_ => Task.FromResult(monitor.Find(projection.Name)!.Checkpoint >= head), TimeSpan.FromSeconds(60), CancellationToken.None);
            // A batch can commit before its command's save has returned: that command's freshness is 0.
            var latencies = committedAt.Select(c => appliedAt.TryGetValue(c.Key, out var applied)
                ? Math.Max(0, Stopwatch.GetElapsedTime(c.Value, applied).TotalMilliseconds) : double.NaN).Where(l => !double.IsNaN(l)).ToArray();
            if (round < 0) continue;
            samples += latencies.Length;
            achieved.Add(rate);
            p50.Add(Comparison.Percentile(latencies, 50));
            p99.Add(Comparison.Percentile(latencies, 99));
            p999.Add(Comparison.Percentile(latencies, 99.9));
        }
        await dispatcher.StopAsync(CancellationToken.None);
        await runner.StopAsync(CancellationToken.None);

        var scenario = $"{FreshnessPrefix} {commandsPerSecond:N0} commands/s ({Comparison.Median(achieved):N0}/s achieved, {samples:N0} samples)";
        var figures = new[]
        {
            Figure.OfRounds(scenario, "p50 commit -> read model", "ms", p50, higherIsBetter: false),
            Figure.OfRounds(scenario, P99Name, "ms", p99, higherIsBetter: false),
            Figure.OfRounds(scenario, "p99.9 commit -> read model", "ms", p999, higherIsBetter: false),
        };
        foreach (var f in figures) Console.WriteLine($"  {f.Scenario,-44} {f.Contender,-28} {f.Describe()}");
        return figures;
    }

    public const string IdlePrefix = "idle";

    /// <summary>
    /// The database commands an idle service sends: the orders_view runner and the outbox dispatcher, caught up, with
    /// nothing appended for <paramref name="window"/> per round; every command Npgsql runs is counted (its activity source).
    /// A second figure wakes them once a second with nothing new to read, as another instance's notification (or this
    /// instance's own NOTIFY, heard back) does: what a wake-up costs.
    /// </summary>
    public static async Task<Figure[]> IdleAsync(BenchDatabase databases, TimeSpan window, int rounds)
    {
        var serializer = BenchKernel.Serializer();
        var signal = new EventStoreSignal();
        await using var database = new EventStoreDatabase(BenchDatabase.Store(await databases.CreateAsync("idle")), [new OrdersViewSchema()]);
        await database.EnsureSchemaAsync();
        var store = new EfCoreEventStore(database, BenchKernel.Envelopes(serializer), null, signal);
        var orders = new EventSourcedRepository<Order>(store, serializer, () => new Order());
        for (var i = 0; i < 100; i++) await orders.SaveAsync(Order.Place($"idle-{i}", "customer", "EUR", [new OrderLine("A", 1, 100)]));
        var projection = new OrdersViewProjection(database, new EfCoreCheckpointStore(database, TimeProvider.System), serializer);
        var monitor = new ProjectionMonitor(TimeProvider.System);
        using var runner = new ProjectionRunner(projection, store, signal, new InProcessProjectionLease(), monitor);
        var outbox = new EfCoreOutboxStore(database);
        using var dispatcher = new OutboxDispatcher(outbox, new EventSourcingPublisher(new DiscardingBus(), "bench"), signal);
        await runner.StartAsync(CancellationToken.None);
        await dispatcher.StartAsync(CancellationToken.None);
        var head = await HeadAsync(store);
        await monitor.WaitUntilAsync(_ => Task.FromResult(monitor.Find(projection.Name)!.Checkpoint >= head), TimeSpan.FromSeconds(60), CancellationToken.None);
        while ((await outbox.GetCountsAsync()).Pending > 0) await Task.Delay(50);

        long commands = 0;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
            ActivityStarted = _ => Interlocked.Increment(ref commands),
        };
        ActivitySource.AddActivityListener(listener);
        async Task<double> CommandsPerSecondAsync(bool woken)
        {
            var before = Interlocked.Read(ref commands);
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < window)
            {
                if (woken) signal.Notify();
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
            return (Interlocked.Read(ref commands) - before) / clock.Elapsed.TotalSeconds;
        }
        var quiet = new List<double>();
        var woken = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            await Task.Delay(TimeSpan.FromSeconds(2)); // what follows the last batch or wake-up is not idle yet
            quiet.Add(await CommandsPerSecondAsync(woken: false));
            woken.Add(await CommandsPerSecondAsync(woken: true));
        }
        await dispatcher.StopAsync(CancellationToken.None);
        await runner.StopAsync(CancellationToken.None);

        const string contender = "orders_view runner + outbox dispatcher";
        Figure[] figures =
        [
            Figure.OfRounds($"{IdlePrefix}: database commands with nothing to do, {window.TotalSeconds:0.#} s a round",
                contender, "commands/s", quiet, higherIsBetter: false),
            Figure.OfRounds($"{IdlePrefix}: database commands, woken once a second with nothing new, {window.TotalSeconds:0.#} s a round",
                contender, "commands/s", woken, higherIsBetter: false),
        ];
        foreach (var figure in figures) Console.WriteLine($"  {figure.Scenario,-44} {figure.Contender,-28} {figure.Describe()}");
        return figures;
    }

    /// <summary>An event bus that accepts every message and does nothing with it.</summary>
    private sealed class DiscardingBus : IEventPublisher
    {
        public Task PublishAsync(EventMessage message, CancellationToken cancellationToken = default) => Task.CompletedTask;
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

    /// <summary>Wraps a projection to note when each event's batch committed; never blocks the runner.</summary>
    private sealed class TimedProjection(IProjection inner, ConcurrentDictionary<string, long> appliedAt) : IProjection
    {
        public string Name => inner.Name;

        public Task<GlobalCheckpoint> LoadCheckpointAsync(CancellationToken cancellationToken) => inner.LoadCheckpointAsync(cancellationToken);

        public async Task<GlobalCheckpoint> ApplyAsync(IReadOnlyList<StoredEventEnvelope> batch, GlobalCheckpoint from, CancellationToken cancellationToken)
        {
            var reached = await inner.ApplyAsync(batch, from, cancellationToken);
            var now = Stopwatch.GetTimestamp();
            foreach (var envelope in batch) appliedAt[envelope.EventId] = now;
            return reached;
        }

        public Task<GlobalCheckpoint> SkipAsync(StoredEventEnvelope parked, GlobalCheckpoint from, CancellationToken cancellationToken) =>
            inner.SkipAsync(parked, from, cancellationToken);

        public Task ResetAsync(CancellationToken cancellationToken) => inner.ResetAsync(cancellationToken);
    }
}
