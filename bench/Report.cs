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
        text.AppendLine($"Each contender of a scenario runs alternately with the others, {Rounds(figures)} counted rounds after an uncounted "
            + "warm-up; a figure is the median of its rounds, shown with their minimum and maximum, and marked **noisy** when "
            + $"max/min > {Figure.NoisyAbove}. Ratios are of medians to the scenario's first row (its baseline). Verdicts below read "
            + "medians only; a noisy figure's verdict is worth less than it looks.").AppendLine();
        text.AppendLine("## Goals").AppendLine();
        text.AppendLine("Evaluated by `Goals.Evaluate` from the medians below (issue 8, and issue 16 for freshness and outbox lag); "
            + "\"not measured\" when a scenario was skipped (RabbitMQ absent, `--only`).").AppendLine();
        text.AppendLine("| goal | measured (median) | min - max over the rounds | met |");
        text.AppendLine("|---|---|---|---|");
        foreach (var goal in Goals.Evaluate(figures))
        {
            var met = goal.Met is { } m ? m ? "met" : "**not met**" : "not measured";
            text.AppendLine($"| {goal.Goal} | {goal.Measured} | {goal.Spread} | {met} |");
        }
        // Why a goal is not met is analysis, not measurement: it lives in bench/analysis.md, kept across runs.
        if (File.Exists(AnalysisPath)) text.AppendLine().AppendLine(File.ReadAllText(AnalysisPath).TrimEnd());
        text.AppendLine().AppendLine("## Figures").AppendLine();
        text.AppendLine("| scenario | system | median | min | max | unit | ratio to baseline | spread | rounds |");
        text.AppendLine("|---|---|---:|---:|---:|---|---:|---|---|");
        foreach (var f in figures)
        {
            var runs = string.Join(", ", f.Runs.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)));
            var spread = f.Runs.Length < 2 ? "one value" : f.Noisy ? $"**noisy** ({f.Spread:0.0}x)" : $"{f.Spread:0.00}x";
            text.AppendLine($"| {f.Scenario} | {f.Contender} | {f.Median:N1} | {f.Min:N1} | {f.Max:N1} | {f.Unit} | {f.RatioToBaseline:0.00} | {spread} | {runs} |");
        }
        text.AppendLine().AppendLine("![append throughput](append-throughput.png)");
        File.WriteAllText(markdownPath, text.ToString());
        WriteChart(figures.Where(f => f.Scenario.StartsWith("append 1 ev", StringComparison.Ordinal)).ToArray(), chartPath);
    }

    private static string Rounds(IReadOnlyList<Figure> figures) =>
        figures.Count == 0 ? "0" : figures.Max(f => f.Runs.Length).ToString(CultureInfo.InvariantCulture);

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

/// <summary>
/// One goal: what it asks, the median it was judged on, the spread of the rounds behind it (noisy or not), and whether it is
/// met (null: not measured in this run).
/// </summary>
public sealed record GoalResult(string Goal, string Measured, bool? Met, string Spread = "-");

/// <summary>The goals of issues 8 and 16, judged from a run's medians (never from a single round).</summary>
public static class Goals
{
    public static IReadOnlyList<GoalResult> Evaluate(IReadOnlyList<Figure> figures)
    {
        Figure? Find(string scenarioPrefix, Func<string, bool> contender) =>
            figures.FirstOrDefault(f => f.Scenario.StartsWith(scenarioPrefix, StringComparison.Ordinal) && contender(f.Contender));
        static bool IsOrdersEs(string name) => name.StartsWith("OrdersEs", StringComparison.Ordinal);

        var results = new List<GoalResult>();
        void AtLeast(string goal, double? value, double target, string format, params Figure?[] from) => Add(goal, value, value >= target, format, from);
        void AtMost(string goal, double? value, double target, string format, params Figure?[] from) => Add(goal, value, value <= target, format, from);
        void Add(string goal, double? value, bool met, string format, Figure?[] from)
        {
            if (value is not { } v || from.Any(f => f is null))
            {
                results.Add(new(goal, "-", null));
                return;
            }
            var spread = string.Join("; ", from.Select(f => f!.Runs.Length < 2 ? "one round"
                : string.Format(CultureInfo.InvariantCulture, "{0:N1} - {1:N1} {2}{3}", f.Min, f.Max, f.Unit, f.Noisy ? " (**noisy**)" : "")));
            results.Add(new(goal, string.Format(CultureInfo.InvariantCulture, format, v), met, spread));
        }

        const string append1 = "append 1 ev/commit, 8 writers";
        var ordersEs1 = Find(append1, IsOrdersEs);
        var marten1 = Find(append1, c => c.StartsWith("Marten", StringComparison.Ordinal));
        AtLeast("append, 1 event/commit, 8 writers: >= 2.5x Marten", ordersEs1 is not null && marten1 is not null ? ordersEs1.Median / marten1.Median : null, 2.5,
            "{0:0.00}x Marten", ordersEs1, marten1);
        AtLeast("append, 1 event/commit, 8 writers: >= 0.9x hand-written Npgsql", ordersEs1?.RatioToBaseline, 0.9, "{0:0.00}x", ordersEs1);
        var ordersEs10 = Find("append 10 ev/commit, 8 writers", IsOrdersEs);
        AtLeast("append, 10 events/commit, 8 writers: >= 0.85x hand-written Npgsql", ordersEs10?.RatioToBaseline, 0.85, "{0:0.00}x", ordersEs10);

        const string snapshots = "OrdersEs repository + snapshots";
        var load10k = Find("load 10,000 events", c => c == snapshots);
        var load100 = Find("load 100 events", c => c == snapshots);
        AtMost("loading 10,000 events with snapshots costs <= 2x loading 100 (with snapshots)",
            load10k is not null && load100 is not null ? load10k.Median / load100.Median : null, 2, "{0:0.00}x", load10k, load100);

        var catchUp = Find("catch-up", _ => true);
        AtLeast("catch-up of orders_view >= 30,000 events/s", catchUp?.Median, 30_000, "{0:N0} events/s", catchUp);
        foreach (var (rate, target) in new[] { (500, 50), (2_000, 100) })
        {
            var p99 = Find($"{Scenarios.ProjectionScenarios.FreshnessPrefix} {rate:N0} commands/s", c => c == Scenarios.ProjectionScenarios.P99Name);
            AtMost($"freshness at {rate:N0} commands/s: p99 <= {target} ms", p99?.Median, target, "{0:N1} ms", p99);
        }
        var outbox = Find(Scenarios.OutboxScenario.ThroughputPrefix, c => c == Scenarios.OutboxScenario.OrdersEsName);
        var pipelined = Find(Scenarios.OutboxScenario.ThroughputPrefix, c => c == Scenarios.OutboxScenario.PipelinedName);
        AtLeast("outbox to RabbitMQ >= 1.0x the pipelined hand-written relay", outbox is not null && pipelined is not null ? outbox.Median / pipelined.Median : null, 1.0,
            "{0:0.00}x", outbox, pipelined);
        var lag = Find(Scenarios.OutboxScenario.LagPrefix, c => c == Scenarios.OutboxScenario.LagP99Name);
        AtMost("outbox lag at 1,000 appends/s: p99 <= 50 ms", lag?.Median, 50, "{0:N1} ms", lag);
        var http = Find(Scenarios.HttpScenario.Prefix, c => c == Scenarios.HttpScenario.OrdersEsName);
        AtLeast("POST /api/orders at 64 connections >= 0.8x the bare endpoint", http?.RatioToBaseline, 0.8, "{0:0.00}x", http);
        var rss = Find(Scenarios.HttpScenario.MemoryScenario, c => c == Scenarios.HttpScenario.PeakRssName);
        AtMost("service peak RSS under that load <= 150 MB", rss?.Median, 150, "{0:N0} MB", rss);
        return results;
    }

    public static void Print(IReadOnlyList<Figure> figures, bool full, int rounds)
    {
        Console.WriteLine(full ? $"Goals (medians of {rounds} rounds):" : "Goals (quick sizes and one round: a smoke check, not a verdict; --full decides):");
        foreach (var goal in Evaluate(figures))
            Console.WriteLine($"  {(goal.Met is { } met ? met ? "met    " : "NOT MET" : "-      ")}  {goal.Goal,-72} {goal.Measured,-16} {goal.Spread}");
    }
}
