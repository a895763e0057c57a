using System.Globalization;
using System.Text;

namespace OrdersEs.Bench;

/// <summary>Writes the results table (docs/benchmarks.md) and the append chart.</summary>
public static class Report
{
    public static void Write(IReadOnlyList<Figure> figures, string markdownPath, string chartPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(markdownPath)!);
        var text = new StringBuilder();
        text.AppendLine("# Benchmarks").AppendLine();
        text.AppendLine($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC with `dotnet run -c Release --project bench -- --full` on {Environment.ProcessorCount} cores, "
            + $"{Environment.OSVersion}, .NET {Environment.Version}, against the throwaway PostgreSQL of `.ci/postgres.sh` (fsync off: "
            + "absolute numbers flatter every system alike; the ratios are what to read).").AppendLine();
        text.AppendLine("Each contender of a scenario runs alternately with the others, several rounds; the table shows medians and the "
            + "ratio to the scenario's first row (its baseline).").AppendLine();
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
