using System.Globalization;
using System.Text;

namespace OrdersEs.Bench;

/// <summary>Writes the goals and results tables (docs/benchmarks.md) and the append chart.</summary>
public static class Report
{
    public const string AnalysisPath = "bench/analysis.md";

    public static void Write(IReadOnlyList<Figure> figures, string markdownPath, string chartPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(markdownPath)!);
        var text = new StringBuilder();
        text.AppendLine("# Benchmarks").AppendLine();
        text.AppendLine($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC with `dotnet run -c Release --project bench -- --full` on {Environment.ProcessorCount} cores, "
            + $"{Environment.OSVersion}, .NET {Environment.Version}, against the throwaway PostgreSQL of `.ci/postgres.sh` (fsync off: "
            + "absolute numbers flatter every system alike; the ratios are what to read) and of `.ci/rabbitmq.sh`. The systems under test, "
            + "their baselines, PostgreSQL, RabbitMQ and the load generators all share these cores.").AppendLine();
        text.AppendLine("Each contender of a scenario runs alternately with the others, several rounds; the table shows medians and the "
            + "ratio to the scenario's first row (its baseline).").AppendLine();
        text.AppendLine("## Goals of issue 8").AppendLine();
        text.AppendLine("Evaluated by `Goals.Evaluate` from the figures below; \"not measured\" when a scenario was skipped (RabbitMQ absent, `--only`).").AppendLine();
        text.AppendLine("| goal | measured | met |");
        text.AppendLine("|---|---|---|");
        foreach (var goal in Goals.Evaluate(figures))
            text.AppendLine($"| {goal.Goal} | {goal.Measured} | {(goal.Met is { } met ? met ? "met" : "**not met**" : "not measured")} |");
        // Why a goal is not met is analysis, not measurement: it lives in bench/analysis.md, kept across runs.
        if (File.Exists(AnalysisPath)) text.AppendLine().AppendLine(File.ReadAllText(AnalysisPath).TrimEnd());
        text.AppendLine().AppendLine("## Figures").AppendLine();
        text.AppendLine("| scenario | system | median | unit | ratio to baseline | runs |");
        text.AppendLine("|---|---|---:|---|---:|---|");
        foreach (var f in figures)
        {
            var runs = string.Join(", ", f.Runs.Take(10).Select(r => r.ToString("N0", CultureInfo.InvariantCulture)));
            text.AppendLine($"| {f.Scenario} | {f.Contender} | {f.Median:N1} | {f.Unit} | {f.RatioToBaseline:0.00} | {runs} |");
        }
        text.AppendLine().AppendLine("![append throughput](append-throughput.png)");
        File.WriteAllText(markdownPath, text.ToString());
        WriteChart(figures.Where(f => f.Scenario.StartsWith("append 1 ev", StringComparison.Ordinal)).ToArray(), chartPath);
    }

    private static void WriteChart(IReadOnlyList<Figure> appends, string path)
    {
        var plot = new ScottPlot.Plot();
        var systems = appends.Select(f => f.Contender).Distinct().ToArray();
        var scenarios = appends.Select(f => f.Scenario).Distinct().ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<ScottPlot.Bar>();
        for (var s = 0; s < scenarios.Length; s++)
        {
            for (var c = 0; c < systems.Length; c++)
            {
                var figure = appends.FirstOrDefault(f => f.Scenario == scenarios[s] && f.Contender == systems[c]);
                if (figure is null) continue;
                bars.Add(new ScottPlot.Bar { Position = s * (systems.Length + 1) + c, Value = figure.Median, FillColor = palette.GetColor(c) });
            }
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks(
            scenarios.Select((_, s) => s * (systems.Length + 1) + (systems.Length - 1) / 2.0).ToArray(),
            scenarios.Select(s => s.Replace("append 1 ev/commit, ", "", StringComparison.Ordinal)).ToArray());
        plot.Legend.IsVisible = true;
        for (var c = 0; c < systems.Length; c++) plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = systems[c], FillColor = palette.GetColor(c) });
        plot.Axes.Left.Label.Text = "events/s (1 event per commit)";
        plot.Title("Append throughput per writer count");
        plot.Axes.Margins(bottom: 0);
        plot.SavePng(path, 900, 500);
    }
}

/// <summary>One goal of issue 8: what it asks, the figure it was judged on, and whether it is met (null: not measured in this run).</summary>
public sealed record GoalResult(string Goal, string Measured, bool? Met);

/// <summary>The goals of issue 8, judged from a run's figures.</summary>
public static class Goals
{
    public static IReadOnlyList<GoalResult> Evaluate(IReadOnlyList<Figure> figures)
    {
        Figure? Find(string scenarioPrefix, Func<string, bool> contender) =>
            figures.FirstOrDefault(f => f.Scenario.StartsWith(scenarioPrefix, StringComparison.Ordinal) && contender(f.Contender));
        static bool IsOrdersEs(string name) => name.StartsWith("OrdersEs", StringComparison.Ordinal);

        var results = new List<GoalResult>();
        void AtLeast(string goal, double? value, double target, string format) =>
            results.Add(value is { } v ? new(goal, string.Format(CultureInfo.InvariantCulture, format, v), v >= target) : new(goal, "-", null));
        void AtMost(string goal, double? value, double target, string format) =>
            results.Add(value is { } v ? new(goal, string.Format(CultureInfo.InvariantCulture, format, v), v <= target) : new(goal, "-", null));

        const string append1 = "append 1 ev/commit, 8 writers";
        var ordersEs1 = Find(append1, IsOrdersEs);
        var marten1 = Find(append1, c => c.StartsWith("Marten", StringComparison.Ordinal));
        AtLeast("append, 1 event/commit, 8 writers: >= 1.5x Marten", ordersEs1 is not null && marten1 is not null ? ordersEs1.Median / marten1.Median : null, 1.5,
            "{0:0.00}x Marten");
        AtLeast("append, 1 event/commit, 8 writers: >= 0.85x hand-written Npgsql", ordersEs1?.RatioToBaseline, 0.85, "{0:0.00}x");
        AtLeast("append, 10 events/commit, 8 writers: >= 0.85x hand-written Npgsql", Find("append 10 ev/commit, 8 writers", IsOrdersEs)?.RatioToBaseline, 0.85, "{0:0.00}x");

        const string snapshots = "OrdersEs repository + snapshots";
        var load10k = Find("load 10,000 events", c => c == snapshots);
        var load100 = Find("load 100 events", c => c == snapshots);
        AtMost("loading 10,000 events with snapshots costs <= 2x loading 100 (with snapshots)",
            load10k is not null && load100 is not null ? load10k.Median / load100.Median : null, 2, "{0:0.00}x");

        AtLeast("catch-up of orders_view >= 20,000 events/s", Find("catch-up", _ => true)?.Median, 20_000, "{0:N0} events/s");
        AtMost("freshness p99 <= 50 ms", Find("freshness", c => c.StartsWith("p99", StringComparison.Ordinal))?.Median, 50, "{0:N1} ms");
        AtLeast("outbox to RabbitMQ >= 5,000 messages/s", Find(Scenarios.OutboxScenario.ThroughputPrefix, c => c == Scenarios.OutboxScenario.OrdersEsName)?.Median,
            5_000, "{0:N0} msg/s");
        AtLeast("POST /api/orders at 64 connections >= 0.8x the bare endpoint",
            Find(Scenarios.HttpScenario.Prefix, c => c == Scenarios.HttpScenario.OrdersEsName)?.RatioToBaseline, 0.8, "{0:0.00}x");
        AtMost("service peak RSS under that load <= 200 MB",
            Find(Scenarios.HttpScenario.MemoryScenario, c => c == Scenarios.HttpScenario.PeakRssName)?.Median, 200, "{0:N0} MB");
        return results;
    }

    public static void Print(IReadOnlyList<Figure> figures, bool full)
    {
        Console.WriteLine(full ? "Goals of issue 8:" : "Goals of issue 8 (quick sizes and one round: a smoke check, not a verdict; --full decides):");
        foreach (var goal in Evaluate(figures))
            Console.WriteLine($"  {(goal.Met is { } met ? met ? "met    " : "NOT MET" : "-      ")}  {goal.Goal,-80} {goal.Measured}");
    }
}
