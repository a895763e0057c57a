using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace OrdersEs.Api.Tests.Invoices;

/// <summary>Every endpoint of <c>/api/invoices</c>, run against each database provider (subclasses below).</summary>
public abstract class InvoicesApiContract(ApiFixture fixture)
{
    private const string Route = "/api/invoices";

    private ApiFactory Api => fixture.Factory;

    private HttpClient NewTenant() => Api.Client("tenant-" + Guid.NewGuid().ToString("N")[..12]);

    // ---- POST /api/invoices

    [Fact]
    public async Task Create_answers_201_with_location_etag_id_and_version()
    {
        var (id, response) = await CreateAsync(NewTenant());

        Assert.Equal($"{Route}/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("\"1\"", response.Headers.ETag?.ToString());
        Assert.Equal(1, (await response.JsonAsync()).GetProperty("version").GetInt32());
        Assert.StartsWith("inv_", id, StringComparison.Ordinal);
        Assert.InRange(id.Length, 1, 64);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"name":""}""")]
    [InlineData("""{"name":"   "}""")]
    [InlineData("""{"name":"tab\there"}""")]
    [InlineData("""{"name":42}""")]
    public async Task Create_with_a_missing_or_invalid_name_is_a_400_naming_it(string body)
    {
        var response = await NewTenant().PostAsync(Route, ApiCalls.Raw(body, "application/json"));
        Assert.Contains("name", (await response.AssertProblemAsync(400, "validation")).ErrorFields());
    }

    [Fact]
    public async Task A_name_of_200_characters_is_taken_and_one_of_201_is_a_400()
    {
        var client = NewTenant();
        await CreateAsync(client, new string('n', 200));
        var response = await client.PostAsJsonAsync(Route, new { name = new string('n', 201) });
        Assert.Contains("name", (await response.AssertProblemAsync(400, "validation")).ErrorFields());
    }

    [Fact]
    public async Task Create_without_a_json_body_is_a_400_or_415()
    {
        var client = NewTenant();
        await (await client.PostAsync(Route, ApiCalls.Raw("", "application/json"))).AssertProblemAsync(400, "validation");
        await (await client.PostAsync(Route, ApiCalls.Raw("name=x", "text/plain"))).AssertProblemAsync(415, "unsupported-media-type");
    }

    [Fact]
    public async Task A_repeated_idempotency_key_replays_the_first_answer_and_creates_one()
    {
        var client = NewTenant();
        var first = await SendWithKey(client, "key-1", new { name = "Once" });
        var second = await SendWithKey(client, "key-1", new { name = "Once" });

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        Assert.Equal(first.Headers.ETag, second.Headers.ETag);
        Assert.Equal((await first.JsonAsync()).GetProperty("id").GetString(), (await second.JsonAsync()).GetProperty("id").GetString());
        var id = (await first.JsonAsync()).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"{Route}/{id}?minVersion=1")).StatusCode);
        Assert.Equal(1, (await (await client.GetAsync(Route)).JsonAsync()).GetProperty("totalCount").GetInt32());
    }

    [Fact]
    public async Task An_idempotency_key_reused_with_another_body_is_a_422()
    {
        var client = NewTenant();
        Assert.Equal(HttpStatusCode.Created, (await SendWithKey(client, "key-2", new { name = "One" })).StatusCode);
        await (await SendWithKey(client, "key-2", new { name = "Another" })).AssertProblemAsync(422, "idempotency-key-reused");
    }

    private static Task<HttpResponseMessage> SendWithKey(HttpClient client, string key, object body)
    {
        var request = ApiCalls.Post(Route, body);
        request.Headers.Add("Idempotency-Key", key);
        return client.SendAsync(request);
    }

    // ---- POST /api/invoices/{id}/rename and /close

    [Fact]
    public async Task Rename_answers_200_with_id_version_and_etag_and_the_read_model_follows()
    {
        var client = NewTenant();
        var (id, _) = await CreateAsync(client);
        await AssertVersionAsync(await client.PostAsJsonAsync($"{Route}/{id}/rename", new { name = "Renamed" }), id, 2);

        var read = await (await client.GetAsync($"{Route}/{id}?minVersion=2")).JsonAsync();
        Assert.Equal("Renamed", read.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Rename_with_an_invalid_name_is_a_400()
    {
        var client = NewTenant();
        var (id, _) = await CreateAsync(client);
        var response = await client.PostAsJsonAsync($"{Route}/{id}/rename", new { name = "" });
        Assert.Contains("name", (await response.AssertProblemAsync(400, "validation")).ErrorFields());
    }

    [Fact]
    public async Task Close_answers_200_then_closing_again_or_renaming_is_a_409()
    {
        var client = NewTenant();
        var (id, _) = await CreateAsync(client);
        await AssertVersionAsync(await client.PostAsync($"{Route}/{id}/close", null), id, 2);

        var again = await (await client.PostAsync($"{Route}/{id}/close", null)).AssertProblemAsync(409, "invoice-rule");
        Assert.Equal(id, again.GetProperty("aggregateId").GetString());
        await (await client.PostAsJsonAsync($"{Route}/{id}/rename", new { name = "Too late" })).AssertProblemAsync(409, "invoice-rule");
        var read = await (await client.GetAsync($"{Route}/{id}?minVersion=2")).JsonAsync();
        Assert.Equal("Closed", read.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Commands_on_an_unknown_id_are_404()
    {
        var client = NewTenant();
        await (await client.PostAsJsonAsync($"{Route}/inv_missing/rename", new { name = "x" })).AssertProblemAsync(404, "not-found");
        await (await client.PostAsync($"{Route}/inv_missing/close", null)).AssertProblemAsync(404, "not-found");
    }

    // ---- If-Match

    [Fact]
    public async Task If_match_with_the_current_version_writes_and_a_stale_one_is_a_412()
    {
        var client = NewTenant();
        var (id, created) = await CreateAsync(client);
        var etag = created.Headers.ETag!.ToString();
        var renamed = await client.SendAsync(ApiCalls.Post($"{Route}/{id}/rename", new { name = "Second" }).WithIfMatch(etag));
        await AssertVersionAsync(renamed, id, 2);

        var stale = await client.SendAsync(ApiCalls.Post($"{Route}/{id}/close", null).WithIfMatch(etag));
        var problem = await stale.AssertProblemAsync(412, "precondition-failed");
        Assert.Equal(2, problem.GetProperty("actualVersion").GetInt32());
        Assert.Equal(2, (await (await client.GetAsync($"{Route}/{id}/events")).JsonAsync()).GetArrayLength());

        await AssertVersionAsync(await client.SendAsync(ApiCalls.Post($"{Route}/{id}/close", null).WithIfMatch(renamed.Headers.ETag!.ToString())), id, 3);
    }

    [Fact]
    public async Task A_malformed_if_match_is_a_400()
    {
        var client = NewTenant();
        var (id, _) = await CreateAsync(client);
        var response = await client.SendAsync(ApiCalls.Post($"{Route}/{id}/close", null).WithIfMatch("version-one"));
        Assert.Contains("If-Match", (await response.AssertProblemAsync(400, "validation")).ErrorFields());
    }

    // ---- GET /api/invoices/{id}, /api/invoices, /api/invoices/{id}/events

    [Fact]
    public async Task Get_with_min_version_reads_the_own_write_with_every_field_and_the_etag()
    {
        var client = NewTenant();
        var (id, _) = await CreateAsync(client, "Read me");

        var response = await client.GetAsync($"{Route}/{id}?minVersion=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"1\"", response.Headers.ETag?.ToString());
        var read = await response.JsonAsync();
        Assert.Equal(id, read.GetProperty("id").GetString());
        Assert.Equal("Read me", read.GetProperty("name").GetString());
        Assert.Equal("Open", read.GetProperty("status").GetString());
        Assert.Equal(1, read.GetProperty("version").GetInt32());
        Assert.True(read.GetProperty("createdAt").GetDateTimeOffset() <= read.GetProperty("updatedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task Get_of_an_unknown_id_is_a_404_and_a_bad_min_version_a_400()
    {
        var client = NewTenant();
        var missing = await (await client.GetAsync($"{Route}/inv_unknown")).AssertProblemAsync(404, "not-found");
        Assert.Equal("Invoice", missing.GetProperty("aggregateType").GetString());
        Assert.Contains("minVersion", (await (await client.GetAsync($"{Route}/x?minVersion=0")).AssertProblemAsync(400, "validation")).ErrorFields());
        Assert.Contains("minVersion", (await (await client.GetAsync($"{Route}/x?minVersion=abc")).AssertProblemAsync(400, "validation")).ErrorFields());
    }

    // ---- GET /api/invoices/{id}?atVersion=N and ?asOf=time: as it was, rebuilt from its events

    [Fact]
    public async Task Get_at_a_version_or_as_of_a_time_answers_the_Invoice_as_it_was()
    {
        var client = NewTenant();
        var (id, created) = await CreateAsync(client, "First name");
        var renamed = await client.SendAsync(ApiCalls.Post($"{Route}/{id}/rename", new { name = "Second name" }).WithIfMatch(created.Headers.ETag!.ToString()));
        await AssertVersionAsync(renamed, id, 2);
        await AssertVersionAsync(await client.PostAsync($"{Route}/{id}/close", null), id, 3);
        var times = (await (await client.GetAsync($"{Route}/{id}/events")).JsonAsync()).EnumerateArray()
            .Select(e => e.GetProperty("occurredAt").GetString()!).ToArray();

        var first = await AssertHistoricalAsync(await client.GetAsync($"{Route}/{id}?atVersion=1"), 1);
        Assert.Equal((id, "First name", "Open"), (first.GetProperty("id").GetString(), first.GetProperty("name").GetString(), first.GetProperty("status").GetString()));
        Assert.Equal(DateTimeOffset.Parse(times[0], System.Globalization.CultureInfo.InvariantCulture), first.GetProperty("createdAt").GetDateTimeOffset());
        Assert.Equal(first.GetProperty("createdAt").GetDateTimeOffset(), first.GetProperty("updatedAt").GetDateTimeOffset());

        var second = await AssertHistoricalAsync(await client.GetAsync($"{Route}/{id}?asOf={Uri.EscapeDataString(times[1])}"), 2);
        Assert.Equal(("Second name", "Open"), (second.GetProperty("name").GetString(), second.GetProperty("status").GetString()));
        Assert.Equal(DateTimeOffset.Parse(times[1], System.Globalization.CultureInfo.InvariantCulture), second.GetProperty("updatedAt").GetDateTimeOffset());

        var latest = await AssertHistoricalAsync(await client.GetAsync($"{Route}/{id}?atVersion=50"), 3);
        Assert.Equal("Closed", latest.GetProperty("status").GetString());
        await AssertHistoricalAsync(await client.GetAsync($"{Route}/{id}?asOf=2999-01-01T02:00:00%2B02:00"), 3);
    }

    [Fact]
    public async Task Get_before_the_Invoice_existed_or_of_another_tenant_is_a_404()
    {
        var (owner, other) = (NewTenant(), NewTenant());
        var (id, _) = await CreateAsync(owner);

        await (await owner.GetAsync($"{Route}/{id}?asOf=2000-01-01T00:00:00Z")).AssertProblemAsync(404, "not-found");
        await (await owner.GetAsync($"{Route}/inv_unknown?atVersion=1")).AssertProblemAsync(404, "not-found");
        await (await other.GetAsync($"{Route}/{id}?atVersion=1")).AssertProblemAsync(404, "not-found");
        await (await other.GetAsync($"{Route}/{id}?asOf=2999-01-01T00:00:00Z")).AssertProblemAsync(404, "not-found");
        await AssertHistoricalAsync(await owner.GetAsync($"{Route}/{id}?atVersion=1"), 1);
    }

    [Theory]
    [InlineData("atVersion=0", new[] { "atVersion" })]
    [InlineData("atVersion=abc", new[] { "atVersion" })]
    [InlineData("asOf=yesterday", new[] { "asOf" })]
    [InlineData("asOf=2026-12-07T10:00:00", new[] { "asOf" })]
    [InlineData("atVersion=1&asOf=2026-12-07T10:00:00Z", new[] { "asOf", "atVersion" })]
    [InlineData("minVersion=1&atVersion=1", new[] { "atVersion", "minVersion" })]
    public async Task Get_with_a_bad_or_a_second_point_in_time_is_a_400_naming_each(string query, string[] fields)
    {
        var response = await NewTenant().GetAsync($"{Route}/inv_any?{query}");
        Assert.Equal(fields, (await response.AssertProblemAsync(400, "validation")).ErrorFields().Order());
    }

    [Fact]
    public async Task List_filters_by_status_and_pages_newest_first()
    {
        var client = NewTenant();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add((await CreateAsync(client, $"Number {i}")).Id);
        await client.PostAsync($"{Route}/{ids[0]}/close", null);
        await client.GetAsync($"{Route}/{ids[0]}?minVersion=2");
        foreach (var id in ids[1..]) await client.GetAsync($"{Route}/{id}?minVersion=1");

        var all = await (await client.GetAsync(Route)).JsonAsync();
        Assert.Equal(3, all.GetProperty("totalCount").GetInt32());
        Assert.Equal(1, all.GetProperty("page").GetInt32());
        Assert.Equal(20, all.GetProperty("pageSize").GetInt32());
        var items = all.GetProperty("items").EnumerateArray().ToArray();
        Assert.Equal(ids.Order(), items.Select(i => i.GetProperty("id").GetString()!).Order());
        var created = items.Select(i => i.GetProperty("createdAt").GetDateTimeOffset()).ToArray();
        Assert.Equal(created.OrderDescending(), created);

        var closed = await (await client.GetAsync($"{Route}?status=closed")).JsonAsync();
        Assert.Equal(ids[0], Assert.Single(closed.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());

        var open = await (await client.GetAsync($"{Route}?status=Open&page=2&pageSize=1")).JsonAsync();
        Assert.Equal(2, open.GetProperty("totalCount").GetInt32());
        Assert.Contains(Assert.Single(open.GetProperty("items").EnumerateArray()).GetProperty("id").GetString(), ids[1..]);
    }

    [Theory]
    [InlineData("pageSize=101", "pageSize")]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("page=0", "page")]
    [InlineData("page=abc", "page")]
    [InlineData("page=2147483647&pageSize=100", "page")]
    [InlineData("status=Lost", "status")]
    public async Task List_with_bad_paging_or_filters_is_a_400(string query, string field)
    {
        var response = await NewTenant().GetAsync($"{Route}?{query}");
        Assert.Contains(field, (await response.AssertProblemAsync(400, "validation")).ErrorFields());
    }

    [Fact]
    public async Task Events_are_the_stored_envelopes_in_sequence_order_with_json_payloads()
    {
        var client = NewTenant();
        var (id, _) = await CreateAsync(client, "Evented");
        await client.PostAsJsonAsync($"{Route}/{id}/rename", new { name = "Renamed" });
        await client.PostAsync($"{Route}/{id}/close", null);

        var events = (await (await client.GetAsync($"{Route}/{id}/events")).JsonAsync()).EnumerateArray().ToArray();
        Assert.Equal([1, 2, 3], events.Select(e => e.GetProperty("sequence").GetInt32()));
        Assert.Equal(["InvoiceCreated", "InvoiceRenamed", "InvoiceClosed"], events.Select(e => e.GetProperty("eventType").GetString()));
        Assert.Equal("Evented", events[0].GetProperty("payload").GetProperty("name").GetString());
        Assert.Equal("Renamed", events[1].GetProperty("payload").GetProperty("name").GetString());
        Assert.All(events, e => Assert.Equal(JsonValueKind.Object, e.GetProperty("metadata").ValueKind));
        await (await client.GetAsync($"{Route}/inv_unknown/events")).AssertProblemAsync(404, "not-found");
    }

    // ---- tenancy and correlation

    [Fact]
    public async Task A_tenant_can_neither_read_nor_change_another_tenants_Invoices()
    {
        var (owner, other) = (NewTenant(), NewTenant());
        var (id, _) = await CreateAsync(owner);
        await owner.GetAsync($"{Route}/{id}?minVersion=1");

        await (await other.GetAsync($"{Route}/{id}")).AssertProblemAsync(404, "not-found");
        await (await other.GetAsync($"{Route}/{id}/events")).AssertProblemAsync(404, "not-found");
        await (await other.PostAsync($"{Route}/{id}/close", null)).AssertProblemAsync(404, "not-found");
        await (await other.PostAsJsonAsync($"{Route}/{id}/rename", new { name = "Mine now" })).AssertProblemAsync(404, "not-found");
        await (await Api.Client(null).GetAsync($"{Route}/{id}")).AssertProblemAsync(404, "not-found");
        Assert.Equal(0, (await (await other.GetAsync(Route)).JsonAsync()).GetProperty("totalCount").GetInt32());
        Assert.Equal(1, (await (await owner.GetAsync($"{Route}/{id}/events")).JsonAsync()).GetArrayLength());
    }

    [Fact]
    public async Task The_tenant_and_correlation_id_are_stored_and_the_correlation_id_echoed()
    {
        var tenant = "tenant-" + Guid.NewGuid().ToString("N")[..8];
        var client = Api.Client(tenant);
        var request = ApiCalls.Post(Route, new { name = "Correlated" });
        request.Headers.Add("X-Correlation-Id", "corr-42");
        var response = await client.SendAsync(request);
        Assert.Equal("corr-42", Assert.Single(response.Headers.GetValues("X-Correlation-Id")));

        var id = (await response.JsonAsync()).GetProperty("id").GetString();
        var metadata = (await (await client.GetAsync($"{Route}/{id}/events")).JsonAsync())[0].GetProperty("metadata");
        Assert.Equal("corr-42", metadata.GetProperty("correlation_id").GetString());
        Assert.Equal(tenant, metadata.GetProperty("tenant_id").GetString());
    }

    // ---- found by convention: OpenAPI and the projection

    [Fact]
    public async Task The_openapi_document_lists_every_operation_under_its_tag()
    {
        var document = await (await Api.CreateClient().GetAsync("/openapi/v1.json")).JsonAsync();
        var operations = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(op => (Path: path.Name, Method: op.Name, Op: op.Value)))
            .Where(o => o.Path == Route || o.Path.StartsWith(Route + "/", StringComparison.Ordinal))
            .ToArray();
        string[] expected =
        [
            $"post {Route} CreateInvoice", $"get {Route} ListInvoices", $"get {Route}/{{id}} GetInvoice",
            $"get {Route}/{{id}}/events GetInvoiceEvents", $"post {Route}/{{id}}/rename RenameInvoice", $"post {Route}/{{id}}/close CloseInvoice",
        ];
        Assert.Equal(expected.Order(), operations.Select(o => $"{o.Method} {o.Path} {o.Op.GetProperty("operationId").GetString()}").Order());
        Assert.All(operations, o =>
        {
            Assert.False(string.IsNullOrEmpty(o.Op.GetProperty("summary").GetString()));
            Assert.Equal(["Invoices"], o.Op.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        });
        var create = operations.Single(o => o.Method == "post" && o.Path == Route).Op.GetProperty("responses");
        foreach (var status in new[] { "201", "400", "413", "415", "422", "503" })
            Assert.True(create.TryGetProperty(status, out _), $"CreateInvoice declares {status}");
    }

    [Fact]
    public async Task The_projection_runs_and_is_listed_for_the_admin()
    {
        var client = NewTenant();
        var (id, _) = await CreateAsync(client);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"{Route}/{id}?minVersion=1")).StatusCode);

        var admin = Api.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Admin-Key", "test-admin-key");
        var projections = await (await admin.GetAsync("/admin/projections")).JsonAsync();
        var view = projections.EnumerateArray().Single(p => p.GetProperty("name").GetString() == "invoices_view");
        Assert.True(view.GetProperty("checkpointPosition").GetInt64() >= 1);
    }

    // ---- helpers

    private static async Task<(string Id, HttpResponseMessage Response)> CreateAsync(HttpClient client, string name = "A name")
    {
        var response = await client.PostAsJsonAsync(Route, new { name });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return ((await response.JsonAsync()).GetProperty("id").GetString()!, response);
    }

    /// <summary>A historical answer: 200, the version it stopped at in the body and the ETag, not kept by shared caches.</summary>
    private static async Task<JsonElement> AssertHistoricalAsync(HttpResponseMessage response, int version)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"\"{version}\"", response.Headers.ETag?.ToString());
        Assert.True(response.Headers.CacheControl is { Private: true, NoCache: true }, $"Cache-Control: {response.Headers.CacheControl}");
        var body = await response.JsonAsync();
        Assert.Equal(version, body.GetProperty("version").GetInt32());
        return body;
    }

    private static async Task AssertVersionAsync(HttpResponseMessage response, string id, int version)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"\"{version}\"", response.Headers.ETag?.ToString());
        var body = await response.JsonAsync();
        Assert.Equal(id, body.GetProperty("id").GetString());
        Assert.Equal(version, body.GetProperty("version").GetInt32());
    }
}

public sealed class MemoryInvoicesApiTests(MemoryApiFixture fixture) : InvoicesApiContract(fixture), IClassFixture<MemoryApiFixture>;

public sealed class SqliteInvoicesApiTests(SqliteApiFixture fixture) : InvoicesApiContract(fixture), IClassFixture<SqliteApiFixture>;

public sealed class PostgresInvoicesApiTests(PostgresApiFixture fixture) : InvoicesApiContract(fixture), IClassFixture<PostgresApiFixture>;
