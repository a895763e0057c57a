using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;

namespace OrdersEs.Bench.Scenarios;

/// <summary>
/// <c>POST /api/orders</c> at 64 connections: the real service (its <c>Program</c>, run as a child process with
/// <c>dotnet OrdersEs.Api.dll</c> on Kestrel) against a bare minimal API doing the same durable work (the
/// <c>OrderPlaced</c> row, whose outbox row the same trigger writes) with hand-written Npgsql, run as a child process
/// too (<c>dotnet Bench.dll --bare-endpoint</c>), so both pay for their own process, GC and thread pool. The load
/// generator is 64 loops over one <see cref="HttpClient"/> limited to 64 connections. Afterwards, each one's peak RSS.
/// </summary>
public static class HttpScenario
{
    public const string Prefix = "POST /api/orders, 64 connections";
    public const string OrdersEsName = "OrdersEs service";
    public const string MemoryScenario = "service memory after the POST load";
    public const string PeakRssName = "peak RSS (VmHWM)";
    private const int Connections = 64;

    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """{"customerId":"cust-42","currency":"EUR","lines":[{"sku":"SKU-1","quantity":2,"unitPrice":1250},{"sku":"SKU-2","quantity":1,"unitPrice":990}]}""");

    public static async Task<IReadOnlyList<Figure>> RunAsync(BenchDatabase databases, TimeSpan duration, int rounds)
    {
        Console.WriteLine($"  ({Prefix}: the service, the bare endpoint, PostgreSQL and the load generator share these {Environment.ProcessorCount} cores; "
            + "the service also runs its orders_view projection and outbox dispatcher, on its default in-process bus)");
        var bare = ProcessEndpoint.Bare(databases, duration);
        var service = ProcessEndpoint.Service(databases, duration, OrdersEsName);
        // The same service with pyfly:eda:provider=none: no outbox dispatcher claiming and settling rows beside the requests.
        var withoutDispatcher = ProcessEndpoint.Service(databases, duration, "OrdersEs, no dispatcher", "--pyfly:eda:provider=none");
        var figures = new List<Figure>(await Comparison.RunAsync($"{Prefix}, {duration.TotalSeconds:0.#} s each", "requests/s", higherIsBetter: true, rounds,
            bare, service, withoutDispatcher));
        Figure[] memory =
        [
            new(MemoryScenario, PeakRssName, "MB", service.PeakRssMb, [service.PeakRssMb], 1, false),
            new(MemoryScenario, "RSS at the end (VmRSS)", "MB", service.FinalRssMb, [service.FinalRssMb], 1, false),
            new(MemoryScenario, "bare endpoint, peak RSS", "MB", bare.PeakRssMb, [bare.PeakRssMb], 1, false),
        ];
        foreach (var f in memory) Console.WriteLine($"  {f.Scenario,-44} {f.Contender,-28} {f.Describe()}");
        figures.AddRange(memory);
        return figures;
    }

    /// <summary>64 loops posting the same order for <paramref name="duration"/>; any answer but 201 fails the run.</summary>
    private static async Task<double> LoadAsync(HttpClient client, Uri url, TimeSpan duration)
    {
        long completed = 0;
        var clock = Stopwatch.StartNew();
        var loops = Enumerable.Range(0, Connections).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                using var content = new ByteArrayContent(Body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await client.PostAsync(url, content);
                if (response.StatusCode != HttpStatusCode.Created)
                    throw new InvalidOperationException($"POST {url} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                Interlocked.Increment(ref completed);
            }
        })).ToArray();
        await Task.WhenAll(loops);
        return completed / clock.Elapsed.TotalSeconds;
    }

    private static HttpClient NewClient() => new(new SocketsHttpHandler { MaxConnectionsPerServer = Connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan });

    /// <summary>
    /// What a careful engineer would write without the template: a slim minimal API that checks the body, builds the
    /// <c>OrderPlaced</c> payload and inserts its row (same columns, metadata with a correlation id) in one round trip,
    /// the unique (aggregate, sequence) constraint as the check, and answers 201 with Location, ETag and {id, version}.
    /// Runs in its own process (<c>Bench.dll --bare-endpoint port connection-string</c>) until killed.
    /// </summary>
    public static class BareEndpoint
    {
        public const string Argument = "--bare-endpoint";

        private const string InsertSql = """
            INSERT INTO pyfly_event_store
                (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version, tenant_id)
            VALUES ($1, $2, 'Order', 1, $3, $4, $5, $6, 1, NULL)
            """;

        public static async Task RunAsync(int port, string connectionString)
        {
            // No reset on giving a connection back, as the service's pools: the baseline gets every trick the service gets.
            await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = true });
            var serializer = BenchKernel.Serializer();
            var orderPlaced = serializer.Registry.NameOf(typeof(OrderPlaced));

            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, port));
            await using var app = builder.Build();
            app.MapGet("/health/live", () => Results.Ok());
            app.MapPost("/api/orders", async (BareOrder body, HttpContext http) =>
            {
                if (string.IsNullOrWhiteSpace(body.CustomerId) || body.Currency is not { Length: 3 } || body.Lines is not { Count: > 0 and <= 100 }
                    || body.Lines.Any(l => string.IsNullOrWhiteSpace(l.Sku) || l.Quantity < 1 || l.UnitPrice < 0))
                    return Results.BadRequest();
                var id = "ord_" + Guid.CreateVersion7().ToString("N");
                var correlation = Guid.NewGuid().ToString("N");
                var payload = serializer.Serialize(new OrderPlaced(id, body.CustomerId, body.Currency,
                    body.Lines.Select(l => new OrderLine(l.Sku!, l.Quantity, l.UnitPrice)).ToArray()));
                var eventId = Guid.CreateVersion7().ToString("N");
                var metadata = $$"""{"correlation_id":"{{correlation}}"}""";
                var now = DateTime.SpecifyKind(DateTime.UtcNow, DateTimeKind.Unspecified);
                await using var command = dataSource.CreateCommand(InsertSql);
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = eventId });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = orderPlaced });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = PyflyRows.Envelope(eventId, id, "Order", 1, orderPlaced, payload, metadata, now) });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = metadata });
                command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = now, NpgsqlDbType = NpgsqlDbType.Timestamp });
                await command.ExecuteNonQueryAsync(http.RequestAborted);
                http.Response.Headers.ETag = "\"1\"";
                http.Response.Headers["X-Correlation-Id"] = correlation;
                return Results.Created($"/api/orders/{id}", new { id, version = 1 });
            });
            await app.RunAsync();
        }

        private sealed record BareOrder(string? CustomerId, string? Currency, List<BareLine>? Lines);

        private sealed record BareLine(string? Sku, int Quantity, long UnitPrice);
    }

    /// <summary>
    /// An endpoint in a child process on a free loopback port, on a fresh database: <see cref="Service"/> or <see cref="Bare"/>.
    /// Its output is drained and kept only to explain a failed start.
    /// </summary>
    private sealed class ProcessEndpoint(
        BenchDatabase databases, TimeSpan duration, string name, string database, Func<string, Task> prepare,
        string directory, Func<int, string, string[]> arguments) : IContender
    {
        /// <summary>
        /// The service as deployed: <c>dotnet OrdersEs.Api.dll</c> with its appsettings.json, PostgreSQL through the
        /// command line (<c>--pyfly:data:relational:url</c>) and any <paramref name="extraArguments"/>; it creates its schema itself.
        /// </summary>
        public static ProcessEndpoint Service(BenchDatabase databases, TimeSpan duration, string name, params string[] extraArguments)
        {
            var directory = typeof(HttpScenario).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .Single(a => a.Key == "ApiOutputDirectory").Value!;
            var dll = Path.Combine(directory, "OrdersEs.Api.dll");
            if (!File.Exists(dll)) throw new FileNotFoundException($"{dll} is missing: build bench/ (it builds src/Api in the same configuration).", dll);
            return new ProcessEndpoint(databases, duration, name, "http_svc", _ => Task.CompletedTask, directory, (port, connectionString) =>
            [
                dll, "--urls", $"http://127.0.0.1:{port}",
                "--pyfly:eventsourcing:store:provider=efcore", $"--pyfly:data:relational:url={connectionString}", .. extraArguments,
            ]);
        }

        /// <summary>The <see cref="BareEndpoint"/>, on the same schema (created here, as the service creates its own).</summary>
        public static ProcessEndpoint Bare(BenchDatabase databases, TimeSpan duration)
        {
            var bench = typeof(HttpScenario).Assembly.Location;
            return new ProcessEndpoint(databases, duration, "bare minimal API + Npgsql", "http_bare",
                async connectionString =>
                {
                    await using var schema = new EventStoreDatabase(BenchDatabase.Store(connectionString));
                    await schema.EnsureSchemaAsync();
                },
                Path.GetDirectoryName(bench)!, (port, connectionString) => [bench, BareEndpoint.Argument, port.ToString(System.Globalization.CultureInfo.InvariantCulture), connectionString]);
        }

        private readonly HttpClient _client = NewClient();
        private readonly Queue<string> _lastOutput = new();
        private Process? _process;
        private Uri? _url;

        public string Name => name;
        public double PeakRssMb { get; private set; } = double.NaN;
        public double FinalRssMb { get; private set; } = double.NaN;

        public async Task SetupAsync()
        {
            var connectionString = await databases.CreateAsync(database);
            await prepare(connectionString);
            var port = FreePort();
            var start = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = directory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in arguments(port, connectionString)) start.ArgumentList.Add(argument);
            _process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
            _process.OutputDataReceived += (_, line) => Keep(line.Data);
            _process.ErrorDataReceived += (_, line) => Keep(line.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();

            var root = new Uri($"http://127.0.0.1:{port}");
            _url = new Uri(root, "/api/orders");
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                if (_process.HasExited) throw new InvalidOperationException($"{name} exited with {_process.ExitCode}:\n{Output()}");
                try
                {
                    using var live = await _client.GetAsync(new Uri(root, "/health/live"));
                    if (live.IsSuccessStatusCode) break;
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }
                if (deadline.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"{name} did not answer within 60 s:\n{Output()}");
                await Task.Delay(100);
            }
        }

        public async Task<double> MeasureAsync()
        {
            var requestsPerSecond = await LoadAsync(_client, _url!, duration);
            // Untimed: let the projection and the dispatcher finish this round's backlog, so it does not run into the next contender's round.
            await WaitUntilQuietAsync(_process!.Id, 2 * duration);
            return requestsPerSecond;
        }

        /// <summary>Waits until the process uses at most 12% of a core over 250 ms (from /proc/pid/stat), at most <paramref name="limit"/>.</summary>
        private static async Task WaitUntilQuietAsync(int pid, TimeSpan limit)
        {
            static long CpuTicks(int pid)
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
                return long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            }
            var deadline = Stopwatch.StartNew();
            var before = CpuTicks(pid);
            while (deadline.Elapsed < limit)
            {
                await Task.Delay(250);
                var now = CpuTicks(pid);
                if (now - before <= 3) return;
                before = now;
            }
            Console.WriteLine($"    note: a child process was still busy {limit.TotalSeconds:0} s after its round (projection, outbox or JIT backlog)");
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            if (_process is null) return;
            if (!_process.HasExited)
            {
                (PeakRssMb, FinalRssMb) = ReadRss(_process.Id);
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }

        /// <summary>VmHWM (the peak resident set since start) and VmRSS of a process, in MB, from /proc.</summary>
        private static (double Peak, double Current) ReadRss(int pid)
        {
            double Field(string[] lines, string name) =>
                lines.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.Ordinal)) is { } line
                    ? double.Parse(line[(name.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024
                    : double.NaN;
            var status = File.ReadAllLines($"/proc/{pid}/status");
            return (Field(status, "VmHWM"), Field(status, "VmRSS"));
        }

        private void Keep(string? line)
        {
            if (line is null) return;
            lock (_lastOutput)
            {
                _lastOutput.Enqueue(line);
                if (_lastOutput.Count > 40) _lastOutput.Dequeue();
            }
        }

        private string Output()
        {
            lock (_lastOutput) return string.Join('\n', _lastOutput);
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
