using System.Diagnostics;
using Xunit;

namespace OrdersEs.Api.Tests.Configuration;

/// <summary>
/// The built service started as an operator starts it: <c>dotnet OrdersEs.Api.dll</c> from a folder without its
/// <c>appsettings.json</c>, configured only through environment variables.
/// </summary>
public sealed class StartupConfigurationTests : IDisposable
{
    private const int ExitCode = 78;
    private readonly string _folder = Directory.CreateTempSubdirectory("orderses-startup-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Without_appsettings_enabled_is_missing_and_start_up_stops_naming_the_key_and_the_missing_file()
    {
        var (exitCode, output) = await RunAsync([]);

        var line = AssertOneConfigurationLine(exitCode, output, "pyfly:eventsourcing:enabled");
        Assert.Contains("is not set", line);
        Assert.Contains(Path.Combine(_folder, "appsettings.json"), line);
        Assert.DoesNotContain("EventStoreDatabase", line);
    }

    [Theory]
    [InlineData("pyfly:eventsourcing:enabled", "false", "'false'")]
    [InlineData("pyfly:eventsourcing:enabled", "yes", "'yes'")]
    [InlineData("pyfly:eventsourcing:store:provider", "mongodb", "'mongodb'")]
    [InlineData("pyfly:eventsourcing:snapshot:provider", "redis", "'redis'")]
    [InlineData("pyfly:eventsourcing:snapshot:interval", "often", "whole number")]
    [InlineData("pyfly:eventsourcing:snapshot:interval", "0", "greater than 0")]
    [InlineData("pyfly:eventsourcing:outbox:MaxAttempts", "five", "whole number")]
    [InlineData("pyfly:eventsourcing:outbox:BatchSize", "0", "at least 1")]
    [InlineData("pyfly:eventsourcing:outbox:ClaimLease", "a minute", "duration")]
    [InlineData("pyfly:eventsourcing:projections:failing-degraded-after", "soon", "duration")]
    [InlineData("pyfly:eventsourcing:projections:failing-degraded-after", "00:00:00", "positive duration")]
    [InlineData("pyfly:eventsourcing:projections:lag-degraded-events", "many", "whole number")]
    [InlineData("pyfly:eventsourcing:projections:lag-degraded-events", "0", "positive number of events")]
    [InlineData("pyfly:eventsourcing:projections:lag-degraded-after", "-00:00:01", "positive duration")]
    [InlineData("pyfly:eda:provider", "kafka", "memory, rabbitmq, none")]
    [InlineData("pyfly:eventsourcing:eda:destination", " ", "blank")]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317", "http")]
    public async Task A_bad_value_stops_start_up_with_one_line_naming_the_key(string key, string value, string explanation)
    {
        var (exitCode, output) = await RunAsync([("pyfly:eventsourcing:enabled", "true"), (key, value)]);

        var line = AssertOneConfigurationLine(exitCode, output, key);
        Assert.Contains(explanation, line);
    }

    [Theory]
    [InlineData("pyfly:eventsourcing:store:url", "mysql://app:s3cret@db/orders")]
    [InlineData("pyfly:data:relational:url", "postgresql://app:s3cret@db:notaport/orders")]
    public async Task A_bad_store_url_stops_start_up_naming_the_key_with_the_password_masked(string key, string url)
    {
        var (exitCode, output) = await RunAsync([
            ("pyfly:eventsourcing:enabled", "true"), ("pyfly:eventsourcing:store:provider", "efcore"), (key, url)]);

        var line = AssertOneConfigurationLine(exitCode, output, key);
        Assert.DoesNotContain("s3cret", line);
    }

    [Fact]
    public async Task A_bad_broker_url_stops_start_up_naming_the_key_with_the_password_masked()
    {
        var (exitCode, output) = await RunAsync([
            ("pyfly:eventsourcing:enabled", "true"), ("pyfly:eda:provider", "rabbitmq"), ("pyfly:eda:rabbitmq:url", "http://app:s3cret@broker/")]);

        var line = AssertOneConfigurationLine(exitCode, output, "pyfly:eda:rabbitmq:url");
        Assert.DoesNotContain("s3cret", line);
    }

    [Fact]
    public async Task A_good_configuration_from_the_same_folder_starts_the_service()
    {
        var (exitCode, output) = await RunAsync([("pyfly:eventsourcing:enabled", "true")], untilOutput: "Now listening on");

        Assert.Null(exitCode);
        Assert.DoesNotContain("cannot start", output);
    }

    private static string AssertOneConfigurationLine(int? exitCode, string output, string key)
    {
        Assert.Equal(ExitCode, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("OrdersEs cannot start: ", line);
        Assert.Contains($"'{key}'", line, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Exception", line);
        return line;
    }

    /// <summary>
    /// Runs the service with <paramref name="settings"/> as environment variables (the parent's own PYFLY/OTEL
    /// variables removed); returns its exit code, or null when it was still running once <paramref name="untilOutput"/> appeared.
    /// </summary>
    private async Task<(int? ExitCode, string Output)> RunAsync((string Key, string Value)[] settings, string? untilOutput = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = _folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        foreach (var name in start.Environment.Keys.ToArray())
        {
            if (name.StartsWith("PYFLY", StringComparison.OrdinalIgnoreCase) || name.StartsWith("OTEL_", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase))
                start.Environment.Remove(name);
        }
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;

        using var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Collect(object _, DataReceivedEventArgs line)
        {
            if (line.Data is null) return;
            lock (output) output.AppendLine(line.Data);
            if (untilOutput is not null && line.Data.Contains(untilOutput, StringComparison.Ordinal)) seen.TrySetResult();
        }
        process.OutputDataReceived += Collect;
        process.ErrorDataReceived += Collect;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var exited = process.WaitForExitAsync(timeout.Token);
        try
        {
            if (await Task.WhenAny(exited, seen.Task) == seen.Task && !process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                lock (output) return (null, output.ToString());
            }
            await exited;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the service neither stopped nor started within 60 s: {output}");
        }
        process.WaitForExit(); // drains the redirected streams
        lock (output) return (process.ExitCode, output.ToString());
    }
}
