using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Xunit;

namespace OrdersEs.Api.Tests.Orders;

/// <summary>
/// A few thousand random requests (odd strings, numbers and JSON shapes) against the service on Kestrel, seeded and
/// reproducible (<c>ORDERSES_FUZZ_SEED</c>, <c>ORDERSES_FUZZ_REQUESTS</c>): every answer is a success or a 4xx
/// problem, and afterwards every accepted write is in the store and the read model and nothing rejected is.
/// </summary>
public abstract class FuzzContract(ApiDatabase databases) : IAsyncLifetime
{
    private const string Tenant = "fuzz-tenant";

    [Fact]
    public async Task Random_requests_get_a_success_or_a_4xx_problem_and_only_accepted_writes_land()
    {
        if (await databases.UnavailableAsync() is { } reason) Assert.Skip(reason);
        var seed = int.TryParse(Environment.GetEnvironmentVariable("ORDERSES_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 20261202;
        var count = int.TryParse(Environment.GetEnvironmentVariable("ORDERSES_FUZZ_REQUESTS"), CultureInfo.InvariantCulture, out var n) ? n : 2500;

        await using var factory = new ApiFactory(await databases.CreateAsync());
        factory.UseKestrel(0);
        factory.StartServer();
        using var address = factory.CreateClient();
        // Latin-1 header values: obs-text reaches the server as a client might send it.
        using var client = new HttpClient(new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1 })
        {
            BaseAddress = address.BaseAddress,
        };
        client.DefaultRequestHeaders.Add("X-Tenant-Id", Tenant);

        var fuzz = new HostileRequests(new Random(seed));
        var events = new Dictionary<string, int>(StringComparer.Ordinal); // accepted orders and their accepted writes
        var failures = new List<string>();
        var previous = "";
        var statuses = new SortedDictionary<int, int>();
        for (var i = 0; i < count && failures.Count < 10; i++)
        {
            using var request = fuzz.Next(events.Keys.ToArray());
            var described = $"#{i} {request.Method} {request.RequestUri} [{string.Join("; ", request.Headers.Select(h => $"{h.Key}: {string.Join(",", h.Value)}"))}] "
                            + (request.Content is null ? "" : Shorten(Encoding.UTF8.GetString(await request.Content.ReadAsByteArrayAsync())));
            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(request);
            }
            catch (HttpRequestException e)
            {
                failures.Add($"{described} -> no answer: {e.Message} {e.InnerException?.Message} (after {previous})");
                continue;
            }
            using var answer = response;
            statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
            var body = await response.Content.ReadAsStringAsync();
            if (Check(request, response, body) is { } failure)
            {
                failures.Add($"{described} -> {(int)response.StatusCode}: {failure}: {Shorten(body)}");
                continue;
            }
            Record(request, response, body, events, failures, described);
            previous = $"{described} -> {(int)response.StatusCode} {string.Join(",", response.Headers.Connection)}";
        }
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"seed {seed}, {count} requests, {events.Count} orders accepted; answers: {string.Join(", ", statuses.Select(p => $"{p.Key} x{p.Value}"))}");
        Assert.True(failures.Count == 0, $"seed {seed}:\n" + string.Join("\n", failures));

        // Every accepted write is in the store and, once the projection has caught up, in the read model.
        foreach (var (id, version) in events)
        {
            var stored = JsonDocument.Parse(await client.GetStringAsync($"/api/orders/{Uri.EscapeDataString(id)}/events")).RootElement;
            Assert.Equal(version, stored.GetArrayLength());
            var read = JsonDocument.Parse(await client.GetStringAsync($"/api/orders/{Uri.EscapeDataString(id)}?minVersion={version}")).RootElement;
            Assert.Equal(version, read.GetProperty("version").GetInt32());
        }
        // Nothing rejected created an order: the tenant holds exactly the accepted ones.
        var listed = JsonDocument.Parse(await client.GetStringAsync("/api/orders?pageSize=1")).RootElement;
        Assert.Equal(events.Count, listed.GetProperty("totalCount").GetInt32());
        Assert.True(events.Count > 20, $"seed {seed}: only {events.Count} orders were accepted; the generator should place more.");
    }

    private static string? Check(HttpRequestMessage request, HttpResponseMessage response, string body)
    {
        var status = (int)response.StatusCode;
        if (status is 200 or 201) return null;
        if (status is < 400 or >= 500) return "not a success or a 4xx";
        // Kestrel itself refuses a NUL in the path (a bare 400) before any application code runs.
        if (status == 400 && body.Length == 0 && request.RequestUri!.OriginalString.Contains("%00", StringComparison.Ordinal)) return null;
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json") return "not application/problem+json";
        if (body.Contains("   at ", StringComparison.Ordinal)) return "stack frames in the problem";
        try
        {
            var problem = JsonDocument.Parse(body).RootElement;
            if (problem.GetProperty("status").GetInt32() != status) return "problem status differs from the HTTP status";
            if (problem.GetProperty("type").GetString()?.StartsWith("https://orderses.dev/problems/", StringComparison.Ordinal) != true)
                return "problem type is not this API's";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return "the problem is not the expected JSON";
        }
        return null;
    }

    private static void Record(HttpRequestMessage request, HttpResponseMessage response, string body,
        Dictionary<string, int> events, List<string> failures, string described)
    {
        if (!response.IsSuccessStatusCode || request.Method == HttpMethod.Get) return;
        var answer = JsonDocument.Parse(body).RootElement;
        var id = answer.GetProperty("id").GetString()!;
        var version = answer.GetProperty("version").GetInt32();
        if (response.StatusCode == HttpStatusCode.Created)
        {
            if (events.TryAdd(id, 1)) return;
            if (version != 1) failures.Add($"{described}: an idempotent replay answered version {version}");
            return; // a replay of the first answer: nothing new was written
        }
        if (!events.TryGetValue(id, out var before)) failures.Add($"{described}: a command succeeded on an order never placed ({id})");
        else if (version != before + 1) failures.Add($"{described}: version {version} after {before}");
        else events[id] = version;
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + $"... ({text.Length} chars)";

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await databases.DropAllAsync();
        GC.SuppressFinalize(this);
    }
}

public sealed class SqliteFuzzTests() : FuzzContract(new SqliteDatabases());

public sealed class PostgresFuzzTests() : FuzzContract(new PostgresDatabases());

/// <summary>Random requests to every order endpoint: mostly plausible, with hostile strings, numbers, shapes and headers mixed in.</summary>
internal sealed class HostileRequests(Random random)
{
    private static readonly string[] Skus = ["A", "B", "C", "D-1", "e.2"];
    private static readonly string[] Keys = ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"];

    public HttpRequestMessage Next(IReadOnlyList<string> orders)
    {
        var request = random.Next(20) switch
        {
            < 7 => Place(),
            < 9 => Command(orders, "lines", Line(random.Next(2) == 0, Pick(Skus))),
            < 10 => new HttpRequestMessage(HttpMethod.Delete, $"/api/orders/{OrderId(orders)}/lines/{PathSegment(Pick(Skus))}"),
            < 12 => Command(orders, "confirm", null),
            < 13 => Command(orders, "ship", Maybe(hostile => Object(hostile, ("trackingNumber", hostile ? StringOr("TRACK-1") : Quote("TRACK-1"))))),
            < 14 => Command(orders, "cancel", Maybe(hostile => Object(hostile, ("reason", hostile ? StringOr("changed my mind") : Quote("changed my mind"))))),
            // minVersion waits up to 5 s for a version that never comes: rarely, so the run stays short.
            < 16 => new HttpRequestMessage(HttpMethod.Get, $"/api/orders/{OrderId(orders)}" + (random.Next(20) == 0 ? "?minVersion=" + QueryValue("1") : "")),
            < 18 => new HttpRequestMessage(HttpMethod.Get, "/api/orders?" + ListQuery()),
            _ => new HttpRequestMessage(HttpMethod.Get, $"/api/orders/{OrderId(orders)}/events"),
        };
        if (random.Next(25) == 0) request.Headers.TryAddWithoutValidation("X-Tenant-Id", random.Next(2) == 0 ? new string('t', 65) : "tenant é");
        return request;
    }

    private HttpRequestMessage Place()
    {
        var hostile = random.Next(2) == 0;
        var body = hostile && random.Next(8) == 0
            ? AnyJson(3)
            : Object(hostile,
                ("customerId", hostile ? StringOr("customer-1") : Quote("customer-" + random.Next(5))),
                ("currency", hostile && random.Next(4) == 0 ? AnyJson(1) : Quote(hostile ? Pick(["EUR", "USD", "eur", "EURO", ""]) : "EUR")),
                ("lines", hostile && random.Next(4) == 0 ? AnyJson(2) : Lines(hostile)));
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = Body(body, hostile) };
        if (random.Next(3) == 0) request.Headers.TryAddWithoutValidation("Idempotency-Key", random.Next(10) == 0 ? HeaderNoise() : Pick(Keys));
        return request;
    }

    private string Lines(bool hostile)
    {
        var count = hostile && random.Next(8) == 0 ? 0 : 1 + random.Next(3);
        var skus = Skus.OrderBy(_ => random.Next()).Take(count).ToArray();
        return "[" + string.Join(',', skus.Select(sku => Line(hostile, sku))) + "]";
    }

    private HttpRequestMessage Command(IReadOnlyList<string> orders, string action, string? body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/orders/{OrderId(orders)}/{action}") { Content = body is null ? null : Body(body, random.Next(2) == 0) };
        if (random.Next(3) == 0)
            request.Headers.TryAddWithoutValidation("If-Match", Pick(["\"1\"", "\"2\"", "\"3\"", "*", "W/\"1\"", "\"01\"", "1", "\"1\", \"2\"", "", HeaderNoise()]));
        return request;
    }

    private string Line(bool hostile, string sku) => hostile && random.Next(8) == 0
        ? AnyJson(2)
        : Object(hostile, ("sku", hostile && random.Next(4) == 0 ? StringOr(sku) : Quote(sku)),
            ("quantity", hostile ? NumberOr("1") : "1"), ("unitPrice", hostile ? NumberOr("250") : "250"));

    private StringContent Body(string json, bool hostile = true)
    {
        var content = new StringContent(json, Encoding.UTF8);
        content.Headers.Remove("Content-Type");
        var type = !hostile ? "application/json" : random.Next(12) switch
        {
            0 => "text/plain",
            1 => "application/json; charset=\"UTF-8\"",
            2 => "application/json; charset=latin-9000",
            3 => "application/json; charset=",
            4 => null,
            _ => "application/json",
        };
        if (type is not null) content.Headers.TryAddWithoutValidation("Content-Type", type);
        return content;
    }

    private string OrderId(IReadOnlyList<string> orders) =>
        orders.Count > 0 && random.Next(4) != 0 ? orders[random.Next(orders.Count)] : PathSegment("ord_missing");

    private string PathSegment(string plausible) => random.Next(4) switch
    {
        0 => Uri.EscapeDataString(Noise()),
        1 => Pick(["a%00b", "%01", "%7F", "x%0Ay", "%E2%82%AC", "%ED%A0%80", "%FF", new string('i', 65)]),
        _ => Uri.EscapeDataString(plausible),
    };

    private string ListQuery()
    {
        var parts = new List<string>();
        foreach (var (name, plausible) in new[] { ("status", "Placed"), ("customerId", "customer-1"), ("page", "1"), ("pageSize", "20") })
            if (random.Next(2) == 0) parts.Add($"{name}={QueryValue(plausible)}");
        if (random.Next(10) == 0) parts.Add($"{QueryValue("extra")}={QueryValue("x")}");
        return string.Join('&', parts);
    }

    private string QueryValue(string plausible) => random.Next(3) == 0
        ? Pick(["%00", "2147483647", "2147483648", "-1", "0", "1e3", "%0A", "%ED%A0%80", Uri.EscapeDataString(Noise()), ""])
        : Uri.EscapeDataString(plausible);

    private string? Maybe(Func<bool, string> body) => random.Next(8) == 0 ? null : body(random.Next(2) == 0);

    private string StringOr(string plausible) => random.Next(3) == 0 ? (random.Next(4) == 0 ? AnyJson(1) : JsonString()) : Quote(plausible);

    private string NumberOr(string plausible) => random.Next(3) == 0 ? Number() : plausible;

    /// <summary>A JSON string literal, sometimes invalid (a raw control character) or holding escapes of controls and lone surrogates.</summary>
    private string JsonString() => random.Next(10) switch
    {
        0 => "\"a\\u0000b\"",
        1 => "\"\\ud800\"",
        2 => "\"x\\udc00\\ud800\"",
        3 => "\"\\ud83d\\ude00 ok\"",
        4 => "\"raw\u0001control\"",
        5 => Quote(new string('L', random.Next(2) == 0 ? 65 : 70_000)),
        6 => "\"\"",
        7 => "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        _ => Quote(Noise()),
    };

    private string Number() => Pick(["0", "-1", "1.5", "1e400", "-0", "2147483647", "2147483648", "-2147483649", "9223372036854775808",
        "100000001", "10001", "\"1\"", "NaN", "1E2", "0.0", "-9223372036854775809"]);

    private string AnyJson(int depth) => random.Next(depth <= 0 ? 5 : 7) switch
    {
        0 => "null",
        1 => random.Next(2) == 0 ? "true" : "false",
        2 => Number(),
        3 => JsonString(),
        4 => "",
        5 => "[" + string.Join(',', Enumerable.Range(0, random.Next(3)).Select(_ => AnyJson(depth - 1))) + "]",
        _ => "{" + string.Join(',', Enumerable.Range(0, random.Next(3)).Select(_ => $"{JsonString()}:{AnyJson(depth - 1)}")) + "}",
    };

    /// <summary>Text that a careless client might send: controls, surrogate halves, non-ASCII, quotes; escaped for JSON by the caller.</summary>
    private string Noise()
    {
        var builder = new StringBuilder();
        for (var i = random.Next(1, 12); i > 0; i--)
        {
            builder.Append(random.Next(8) switch
            {
                0 => (char)random.Next(0, 0x20),
                1 => (char)random.Next(0xD800, 0xE000),
                2 => "😀",
                3 => "é東",
                4 => '"',
                5 => '\\',
                _ => (char)random.Next('a', 'z' + 1),
            });
        }
        return builder.ToString();
    }

    private string HeaderNoise() => Pick(["\u00e9t\u00e9", new string('k', 201), "a b", "\t", "x,y", "\"", "\u007f"]);

    private static string Quote(string text) => JsonSerializer.Serialize(text, Unescaped);

    private static readonly JsonSerializerOptions Unescaped = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A JSON object; a hostile one may lack members.</summary>
    private string Object(bool hostile, params (string Name, string Value)[] members) =>
        "{" + string.Join(',', members.Where(_ => !hostile || random.Next(6) != 0).Select(m => $"\"{m.Name}\":{m.Value}")) + "}";

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];
}
