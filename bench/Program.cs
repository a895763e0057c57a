using System.Globalization;
using OrdersEs.Bench;
using OrdersEs.Bench.Scenarios;

// Benchmarks of OrdersEs against baselines run side by side in this process (see bench/README.md).
//   dotnet run -c Release --project bench -- --quick   tiny sizes, a smoke run (CI runs it)
//   dotnet run -c Release --project bench -- --full    the sizes of docs/benchmarks.md; writes it and the chart
//   --only <word>                                      only the scenarios whose name contains it (writes no report)
// Needs ORDERSES_TEST_POSTGRES (a server where databases may be created), as the tests do; the outbox scenario also
// needs ORDERSES_TEST_RABBITMQ_URL and is skipped, saying so, without it.

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
// The HTTP scenario's baseline runs in a child process of its own, as the service does.
if (args.FirstOrDefault() == HttpScenario.BareEndpoint.Argument)
{
    await HttpScenario.BareEndpoint.RunAsync(int.Parse(args[1], CultureInfo.InvariantCulture), args[2]);
    return 0;
}
// docs/benchmarks.md and bench/analysis.md are the repository's: run from anywhere inside it (dotnet run from bench/ too).
for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
{
    if (!File.Exists(Path.Combine(directory.FullName, "bench", "Bench.csproj"))) continue;
    Environment.CurrentDirectory = directory.FullName;
    break;
}
var full = args.Contains("--full");
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
var server = Environment.GetEnvironmentVariable("ORDERSES_TEST_POSTGRES");
if (string.IsNullOrWhiteSpace(server))
{
    Console.Error.WriteLine("ORDERSES_TEST_POSTGRES is not set: start a throwaway server with `eval \"$(.ci/postgres.sh start)\"` (see bench/README.md).");
    return 2;
}

var sizes = full ? BenchSizes.Full : BenchSizes.Quick;
Console.WriteLine($"OrdersEs benchmarks, {(full ? "full" : "quick")} mode, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
var figures = new List<Figure>();
await using (var databases = new BenchDatabase(server))
{
    bool Runs(string name) => only is null || name.Contains(only, StringComparison.OrdinalIgnoreCase);
    if (Runs("append"))
    {
        figures.AddRange(await AppendScenario.RunAsync(databases, 8, 1, sizes.CommitsPerWriter, sizes.Rounds));
        figures.AddRange(await AppendScenario.RunAsync(databases, 32, 1, sizes.CommitsPerWriter / 4, sizes.Rounds));
        figures.AddRange(await AppendScenario.RunAsync(databases, 8, 10, sizes.CommitsPerWriter / 4, sizes.Rounds));
    }
    // Every commit waits for a disk flush: too slow for the quick run.
    if (full && Runs("append, fsync on")) figures.AddRange(await DurableAppendAsync(sizes));
    if (Runs("load")) figures.AddRange(await LoadScenario.RunAsync(databases, sizes.LoadSizes, sizes.LoadsPerRun, sizes.Rounds));
    if (Runs("catch-up")) figures.Add(await ProjectionScenarios.CatchUpAsync(databases, sizes.CatchUpEvents, sizes.Rounds));
    if (Runs("freshness"))
    {
        foreach (var rate in ProjectionScenarios.FreshnessRates)
            figures.AddRange(await ProjectionScenarios.FreshnessAsync(databases, rate, sizes.FreshnessDuration, sizes.Rounds));
    }
    if (Runs("idle")) figures.AddRange(await ProjectionScenarios.IdleAsync(databases, sizes.IdleWindow, sizes.Rounds));
    // "--only outbox" runs both; "--only outbox-lag" one of them.
    if (Runs("outbox-throughput") || Runs("outbox-lag"))
    {
        var broker = Environment.GetEnvironmentVariable("ORDERSES_TEST_RABBITMQ_URL");
        if (string.IsNullOrWhiteSpace(broker))
        {
            Console.WriteLine("  outbox: skipped, ORDERSES_TEST_RABBITMQ_URL is not set (start a broker with `eval \"$(.ci/rabbitmq.sh start)\"`)");
        }
        else
        {
            if (Runs("outbox-throughput"))
                figures.AddRange(await OutboxScenario.ThroughputAsync(databases, new Uri(broker), sizes.OutboxMessages, sizes.Rounds));
            if (Runs("outbox-lag"))
                figures.AddRange(await OutboxScenario.LagAsync(databases, new Uri(broker), 1_000, sizes.OutboxLagDuration, sizes.Rounds));
        }
    }
    if (Runs("http")) figures.AddRange(await HttpScenario.RunAsync(databases, sizes.HttpDuration, sizes.Rounds));
}

Goals.Print(figures, full, sizes.Rounds);
if (full && only is null)
{
    Report.Write(figures, "docs/benchmarks.md", "docs/append-throughput.png");
    Console.WriteLine("Wrote docs/benchmarks.md and docs/append-throughput.png");
}
else if (full)
{
    Console.WriteLine("docs/benchmarks.md left as it is: --only ran a part of the scenarios");
}
return 0;

// The append figure with fsync on, on the server bench/regenerate.sh starts for it, and the disk's own flush rate it measured.
static async Task<IReadOnlyList<Figure>> DurableAppendAsync(BenchSizes sizes)
{
    var figures = new List<Figure>();
    var server = Environment.GetEnvironmentVariable("ORDERSES_BENCH_POSTGRES_DURABLE");
    if (string.IsNullOrWhiteSpace(server))
    {
        Console.WriteLine("  append with fsync on: skipped, ORDERSES_BENCH_POSTGRES_DURABLE is not set (bench/regenerate.sh starts that server)");
        return figures;
    }
    await using (var databases = new BenchDatabase(server))
        figures.AddRange(await AppendScenario.DurableAsync(databases, 8, sizes.CommitsPerWriter, sizes.Rounds));
    if (double.TryParse(Environment.GetEnvironmentVariable("ORDERSES_BENCH_DISK_FSYNC_OPS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var flushes))
    {
        var disk = Figure.OfRounds("disk flush ceiling: pg_test_fsync, fdatasync of one 8 kB write", "the disk", "ops/s", [flushes], higherIsBetter: true);
        Console.WriteLine($"  {disk.Scenario,-44} {disk.Contender,-28} {disk.Describe()}");
        figures.Add(disk);
    }
    return figures;
}

/// <summary>How big each scenario is in quick and full mode; every scenario runs <c>Rounds</c> counted rounds per contender.</summary>
internal sealed record BenchSizes(
    int Rounds, int CommitsPerWriter, int[] LoadSizes, int LoadsPerRun, int CatchUpEvents, TimeSpan FreshnessDuration,
    int OutboxMessages, TimeSpan OutboxLagDuration, TimeSpan HttpDuration, TimeSpan IdleWindow)
{
    public static readonly BenchSizes Quick = new(1, 20, [10, 100], 5, 2_000, TimeSpan.FromSeconds(2),
        500, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(2));
    public static readonly BenchSizes Full = new(7, 1000, [10, 100, 1_000, 10_000], 50, 100_000, TimeSpan.FromSeconds(5),
        50_000, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5));
}
