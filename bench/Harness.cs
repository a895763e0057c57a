using System.Diagnostics;

namespace OrdersEs.Bench;

/// <summary>One system under measurement in a scenario; <see cref="MeasureAsync"/> returns one figure (higher or lower is better per scenario).</summary>
public interface IContender : IAsyncDisposable
{
    string Name { get; }

    Task SetupAsync();

    Task<double> MeasureAsync();
}

/// <summary>
/// A measured figure of one contender: the median of its rounds (one value each), their spread, and the median's ratio to
/// the baseline's median. Verdicts read the median only; a spread over <see cref="NoisyAbove"/> marks the figure noisy.
/// </summary>
public sealed record Figure(string Scenario, string Contender, string Unit, double Median, double[] Runs, double RatioToBaseline, bool HigherIsBetter)
{
    /// <summary>Max/min of the rounds above which a figure is marked noisy: on shared cores, a spread that wide says the run says little.</summary>
    public const double NoisyAbove = 1.5;

    public double Min => Runs.Length == 0 ? double.NaN : Runs.Min();

    public double Max => Runs.Length == 0 ? double.NaN : Runs.Max();

    /// <summary>Max/min of the rounds; 1 for a single round (nothing to compare), infinity when a round measured 0.</summary>
    public double Spread => Runs.Length < 2 ? 1 : Min > 0 ? Max / Min : Max > 0 ? double.PositiveInfinity : 1;

    public bool Noisy => Spread > NoisyAbove;

    /// <summary>A figure from its rounds: their median, ratio 1 (a scenario without a baseline).</summary>
    public static Figure OfRounds(string scenario, string contender, string unit, IReadOnlyList<double> rounds, bool higherIsBetter) =>
        new(scenario, contender, unit, Comparison.Median(rounds), rounds.ToArray(), 1, higherIsBetter);

    /// <summary>One console line: median, min-max over the rounds, and the noisy mark.</summary>
    public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Median,12:N1} {Unit,-10} (min {Min:N1}, max {Max:N1}, {Runs.Length} rounds{(Noisy ? ", NOISY" : "")})");
}

/// <summary>
/// Runs contenders of one scenario alternately (the start rotates each round, so drift and noise hit all of them
/// alike), several rounds, and reports medians as ratios to the first contender (the baseline).
/// </summary>
public static class Comparison
{
    public static async Task<IReadOnlyList<Figure>> RunAsync(
        string scenario, string unit, bool higherIsBetter, int rounds, params IContender[] contenders)
    {
        var runs = contenders.ToDictionary(c => c.Name, _ => new List<double>());
        try
        {
            foreach (var contender in contenders) await contender.SetupAsync();
            // One untimed round warms up the JIT, pools and caches of every contender.
            foreach (var contender in contenders) await contender.MeasureAsync();
            for (var round = 0; round < rounds; round++)
            {
                for (var i = 0; i < contenders.Length; i++)
                {
                    var contender = contenders[(i + round) % contenders.Length];
                    runs[contender.Name].Add(await contender.MeasureAsync());
                }
            }
        }
        finally
        {
            // Also after a failure: a contender may be a child process (the HTTP scenario's), which must not outlive the run.
            foreach (var contender in contenders) await contender.DisposeAsync();
        }

        var baseline = Median(runs[contenders[0].Name]);
        var figures = contenders.Select(c =>
        {
            var median = Median(runs[c.Name]);
            return new Figure(scenario, c.Name, unit, median, runs[c.Name].ToArray(), median / baseline, higherIsBetter);
        }).ToArray();
        foreach (var figure in figures)
            Console.WriteLine($"  {scenario,-44} {figure.Contender,-28} {figure.Describe()} x{figure.RatioToBaseline:0.00} of {contenders[0].Name}");
        return figures;
    }

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static double Percentile(IReadOnlyList<double> values, double percentile)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        var index = (int)Math.Ceiling(percentile / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Length - 1)];
    }

    /// <summary>Runs <paramref name="writers"/> concurrent loops of <paramref name="operationsPerWriter"/> operations; returns operations per second.</summary>
    public static async Task<double> ThroughputAsync(int writers, int operationsPerWriter, Func<int, int, Task> operation)
    {
        using var start = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, writers).Select(writer => Task.Run(async () =>
        {
            start.Wait();
            for (var i = 0; i < operationsPerWriter; i++) await operation(writer, i);
        })).ToArray();
        var clock = Stopwatch.StartNew();
        start.Set();
        await Task.WhenAll(tasks);
        return writers * operationsPerWriter / clock.Elapsed.TotalSeconds;
    }
}
