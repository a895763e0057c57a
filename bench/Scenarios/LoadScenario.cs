using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Snapshots.EfCore;

namespace OrdersEs.Bench.Scenarios;

/// <summary>
/// Loading one aggregate of N events: a hand-written read-and-deserialize of every event against OrdersEs's
/// repository without snapshots and with snapshots (interval 100). Figures are microseconds per load.
/// </summary>
public static class LoadScenario
{
    public static async Task<IReadOnlyList<Figure>> RunAsync(BenchDatabase databases, int[] sizes, int loadsPerRun, int rounds)
    {
        var serializer = BenchKernel.Serializer();
        await using var database = new EventStoreDatabase(BenchDatabase.Store(await databases.CreateAsync("load")));
        var store = new EfCoreEventStore(database, BenchKernel.Envelopes(serializer));
        var snapshots = new EfCoreSnapshotStore(database);
        var plain = new EventSourcedRepository<Tally>(store, serializer, () => new Tally());
        var snapshotting = new EventSourcedRepository<Tally>(store, serializer, () => new Tally(), snapshots);

        var figures = new List<Figure>();
        foreach (var size in sizes)
        {
            // Two copies of the stream: one written with snapshots on, one without.
            var withSnapshots = await WriteAsync(snapshotting, $"snap-{size}", size);
            var withoutSnapshots = await WriteAsync(plain, $"plain-{size}", size);
            figures.AddRange(await Comparison.RunAsync($"load {size:N0} events", "µs/load", higherIsBetter: false, rounds,
                new Loader("hand-written read + deserialize", loadsPerRun, () => HandWrittenLoadAsync(database, serializer, withoutSnapshots)),
                new Loader("OrdersEs repository", loadsPerRun, () => plain.LoadAsync(withoutSnapshots)),
                new Loader("OrdersEs repository + snapshots", loadsPerRun, () => snapshotting.LoadAsync(withSnapshots))));
        }
        return figures;
    }

    private static async Task<string> WriteAsync(EventSourcedRepository<Tally> repository, string id, int size)
    {
        var tally = Tally.Start(id);
        for (var written = 0; written < size; written += 500)
        {
            tally.Add(Math.Min(500, size - written));
            await repository.SaveAsync(tally);
        }
        return id;
    }

    private static async Task<Tally> HandWrittenLoadAsync(EventStoreDatabase database, EventSerializer serializer, string id)
    {
        await using var connection = (NpgsqlConnection)await database.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT payload FROM pyfly_event_store WHERE aggregate_id = $1 ORDER BY sequence", connection)
        {
            Parameters = { new NpgsqlParameter<string> { TypedValue = id } },
        };
        await using var reader = await command.ExecuteReaderAsync();
        var tally = new Tally();
        while (await reader.ReadAsync())
            tally.Replay(JsonSerializer.Deserialize<ItemAdded>(PyflyRows.EventPayload(reader.GetString(0)), EventSerializer.Options)!);
        return tally;
    }

    private sealed class Loader(string name, int loads, Func<Task> load) : IContender
    {
        public string Name => name;

        public Task SetupAsync() => Task.CompletedTask;

        public async Task<double> MeasureAsync()
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < loads; i++) await load();
            return clock.Elapsed.TotalMicroseconds / loads;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
