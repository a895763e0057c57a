using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Xunit;

namespace OrdersEs.Api.Tests.Orders;

/// <summary>
/// What a hostile or careless client sends: every answer is a success or a 4xx problem, and a rejected request
/// writes nothing. Run against each database provider (subclasses below).
/// </summary>
public abstract class HostileInputContract(ApiFixture fixture)
{
    private ApiFactory Api => fixture.Factory;

    private HttpClient NewTenant() => Api.Client("tenant-" + Guid.NewGuid().ToString("N")[..12]);

    private static StringContent Json(string body, string contentType = "application/json")
    {
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.Remove("Content-Type");
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return content;
    }

    private static async Task AssertNoOrdersAsync(HttpClient client)
    {
        var page = await (await client.GetAsync("/api/orders")).JsonAsync();
        Assert.Equal(0, page.GetProperty("totalCount").GetInt32());
    }

    private static async Task AssertVersionAsync(HttpClient client, string id, int version)
    {
        var events = await (await client.GetAsync($"/api/orders/{id}/events")).JsonAsync();
        Assert.Equal(version, events.GetArrayLength());
    }

    // ---- 1. any body shape

    public static readonly TheoryData<string> PlaceBodies = new()
    {
        "{}", "null", "[]", "\"order\"", "1", "true", "", " ",
        "{\"lines\":null}", "{\"lines\":{}}", "{\"lines\":[null]}", "{\"lines\":[{}]}", "{\"lines\":[[]]}", "{\"lines\":[1]}",
        "{\"customerId\":1,\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\",\"quantity\":1,\"unitPrice\":1}]}",
        "{\"customerId\":{},\"currency\":\"EUR\",\"lines\":[]}",
        "{\"customerId\":\"c\",\"currency\":[],\"lines\":[{\"sku\":\"A\",\"quantity\":1,\"unitPrice\":1}]}",
        "{\"customerId\":\"c\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\",\"quantity\":\"1\",\"unitPrice\":1}]}",
        "{\"customerId\":\"c\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\",\"quantity\":1.5,\"unitPrice\":1}]}",
        "{\"customerId\":\"c\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\",\"quantity\":1e400,\"unitPrice\":1}]}",
        "{\"customerId\":\"c\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\",\"quantity\":1,\"unitPrice\":9223372036854775808}]}",
        "{\"customerId\":\"c\",\"currency\":\"EUR\",\"lines\":[{\"sku\":null,\"quantity\":1,\"unitPrice\":1}]}",
        "{\"customerId\":\"c\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\"}]}",
        "{\"customerId\":\"c\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\",\"quantity\":1,\"unitPrice\":1}]",
        "{\"customerId\":\"c\",\"customerId\":\"d\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\",\"quantity\":1,\"unitPrice\":1}]}",
    };

    [Theory]
    [MemberData(nameof(PlaceBodies))]
    public async Task Place_with_any_malformed_body_is_a_400_and_writes_nothing(string body)
    {
        var client = NewTenant();
        var response = await client.PostAsync("/api/orders", Json(body));
        await response.AssertProblemAsync(400, "validation");
        await AssertNoOrdersAsync(client);
    }

    public static readonly TheoryData<string, string> CommandBodies = new()
    {
        { "lines", "{}" }, { "lines", "null" }, { "lines", "[]" }, { "lines", "{\"sku\":{}}" }, { "lines", "{\"sku\":\"B\",\"quantity\":\"x\"}" },
        { "lines", "{\"sku\":\"B\",\"quantity\":1,\"unitPrice\":-9223372036854775809}" },
        { "cancel", "{}" }, { "cancel", "null" }, { "cancel", "[]" }, { "cancel", "{\"reason\":1}" }, { "cancel", "{\"reason\":[\"x\"]}" },
        { "ship", "{}" }, { "ship", "null" }, { "ship", "\"x\"" }, { "ship", "{\"trackingNumber\":true}" },
    };

    [Theory]
    [MemberData(nameof(CommandBodies))]
    public async Task A_command_with_any_malformed_body_is_a_400_and_writes_nothing(string action, string body)
    {
        var client = NewTenant();
        var (id, _) = await client.PlaceAsync();
        var response = await client.PostAsync($"/api/orders/{id}/{action}", Json(body));
        await response.AssertProblemAsync(400, "validation");
        await AssertVersionAsync(client, id, 1);
    }

    // ---- 2. charsets

    [Theory]
    [InlineData("application/json; charset=\"UTF-8\"")]
    [InlineData("application/json; charset=\"utf-8\"")]
    [InlineData("application/json; charset=UTF-8")]
    [InlineData("application/json;charset=utf-8")]
    [InlineData("Application/JSON; Charset=\"UTF-8\"")]
    public async Task A_utf8_charset_quoted_or_not_is_accepted(string contentType)
    {
        var response = await NewTenant().PostAsync("/api/orders",
            Json("{\"customerId\":\"c\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\",\"quantity\":1,\"unitPrice\":1}]}", contentType));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Theory]
    [InlineData("application/json; charset=")]
    [InlineData("application/json; charset=\"\"")]
    [InlineData("application/json; charset=klingon")]
    [InlineData("application/json; charset=\"no such charset\"")]
    [InlineData("application/json; charset")]
    public async Task An_unknown_or_empty_charset_is_a_415_and_writes_nothing(string contentType)
    {
        var client = NewTenant();
        var response = await client.PostAsync("/api/orders",
            Json("{\"customerId\":\"c\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\",\"quantity\":1,\"unitPrice\":1}]}", contentType));
        await response.AssertProblemAsync(415, "unsupported-media-type");
        await AssertNoOrdersAsync(client);
    }

    // ---- 3. text

    public static readonly TheoryData<string> ControlCharacters = new() { "\0", "\u0001", "\t", "\n", "\r", "\u001b", "\u001f" };

    [Theory]
    [MemberData(nameof(ControlCharacters))]
    public async Task A_control_character_in_any_string_field_is_a_400_and_writes_nothing(string control)
    {
        var client = NewTenant();
        var bad = "A" + control + "B";
        var place = await client.PostAsJsonAsync("/api/orders", new { customerId = bad, currency = "EUR", lines = new[] { new { sku = "A", quantity = 1, unitPrice = 1 } } });
        Assert.Contains("customerId", (await place.AssertProblemAsync(400, "validation")).ErrorFields());
        var sku = await client.PostAsJsonAsync("/api/orders", new { customerId = "c", currency = "EUR", lines = new[] { new { sku = bad, quantity = 1, unitPrice = 1 } } });
        await sku.AssertProblemAsync(400, "validation");
        await AssertNoOrdersAsync(client);

        var (id, _) = await client.PlaceAsync();
        await (await client.PostAsJsonAsync($"/api/orders/{id}/cancel", new { reason = bad })).AssertProblemAsync(400, "validation");
        await (await client.PostAsJsonAsync($"/api/orders/{id}/lines", new { sku = bad, quantity = 1, unitPrice = 1 })).AssertProblemAsync(400, "validation");
        await client.PostAsync($"/api/orders/{id}/confirm", null);
        var ship = await client.PostAsJsonAsync($"/api/orders/{id}/ship", new { trackingNumber = bad });
        Assert.Contains("trackingNumber", (await ship.AssertProblemAsync(400, "validation")).ErrorFields());
        await AssertVersionAsync(client, id, 2);
    }

    [Theory]
    [InlineData("\"\\ud800\"")]
    [InlineData("\"a\\udc00b\"")]
    [InlineData("\"\\u0000\"")]
    public async Task An_escaped_lone_surrogate_or_nul_is_a_400(string jsonString)
    {
        var client = NewTenant();
        var response = await client.PostAsync("/api/orders",
            Json($"{{\"customerId\":{jsonString},\"currency\":\"EUR\",\"lines\":[{{\"sku\":\"A\",\"quantity\":1,\"unitPrice\":1}}]}}"));
        Assert.Contains("customerId", (await response.AssertProblemAsync(400, "validation")).ErrorFields());
        await AssertNoOrdersAsync(client);
    }

    [Theory]
    [InlineData("/api/orders?customerId=%00", "customerId")]
    [InlineData("/api/orders?customerId=a%0Ab", "customerId")]
    [InlineData("/api/orders?status=%01", "status")]
    [InlineData("/api/orders/ord_1?minVersion=%00", "minVersion")]
    public async Task A_control_character_in_a_query_parameter_is_a_400(string url, string parameter)
    {
        var response = await NewTenant().GetAsync(url);
        Assert.Contains(parameter, (await response.AssertProblemAsync(400, "validation")).ErrorFields());
    }

    // The test server refuses a NUL in a path before sending; Kestrel's own answer is covered by the fuzz test.
    [Theory]
    [InlineData("/api/orders/a%01b")]
    [InlineData("/api/orders/a%1Fb/events")]
    public async Task A_control_character_in_an_order_id_is_a_400(string url)
    {
        var response = await NewTenant().GetAsync(url);
        await response.AssertProblemAsync(400, "validation");
    }

    [Fact]
    public async Task A_control_character_in_a_path_of_a_write_is_a_400_and_writes_nothing()
    {
        var client = NewTenant();
        var (id, _) = await client.PlaceAsync();
        await (await client.DeleteAsync($"/api/orders/{id}/lines/SKU%011")).AssertProblemAsync(400, "validation");
        await (await client.PostAsync($"/api/orders/{id}%0A/confirm", null)).AssertProblemAsync(400, "validation");
        await AssertVersionAsync(client, id, 1);
    }

    [Fact]
    public async Task Text_beyond_ascii_is_stored_and_read_back_unchanged()
    {
        var client = NewTenant();
        const string customer = "Zoë 😀 東京 \u007f ÿ";
        var (id, _) = await client.PlaceAsync(new { customerId = customer, currency = "EUR", lines = new[] { new { sku = "A", quantity = 1, unitPrice = 1 } } });
        await (await client.PostAsync($"/api/orders/{id}/confirm", null)).EnsureSuccessStatusCodeAsync();
        await (await client.PostAsJsonAsync($"/api/orders/{id}/ship", new { trackingNumber = "Ω-ß-😀" })).EnsureSuccessStatusCodeAsync();

        var order = await (await client.GetAsync($"/api/orders/{id}?minVersion=3")).JsonAsync();
        Assert.Equal(customer, order.GetProperty("customerId").GetString());
        Assert.Equal("Shipped", order.GetProperty("status").GetString());
        var listed = await (await client.GetAsync("/api/orders?customerId=" + Uri.EscapeDataString(customer))).JsonAsync();
        Assert.Equal(1, listed.GetProperty("totalCount").GetInt32());
    }

    // ---- 4. If-Match (RFC 9110 13.1.1: strong comparison)

    [Theory]
    [InlineData("W/\"1\"")]
    [InlineData("\"01\"")]
    [InlineData("\"2\"")]
    [InlineData("W/\"1\", \"2\"")]
    public async Task If_match_that_does_not_strongly_match_is_a_412_and_writes_nothing(string ifMatch)
    {
        var client = NewTenant();
        var (id, _) = await client.PlaceAsync();
        var response = await client.SendAsync(ApiCalls.Post($"/api/orders/{id}/confirm", null).WithIfMatch(ifMatch));
        await response.AssertProblemAsync(412, "precondition-failed");
        await AssertVersionAsync(client, id, 1);
    }

    [Theory]
    [InlineData("\"1\"")]
    [InlineData("*")]
    [InlineData("\"7\", \"1\"")]
    [InlineData("W/\"1\", \"1\"")]
    [InlineData(" \"1\" ")]
    public async Task If_match_with_a_strongly_matching_tag_or_a_star_writes(string ifMatch)
    {
        var client = NewTenant();
        var (id, _) = await client.PlaceAsync();
        var response = await client.SendAsync(ApiCalls.Post($"/api/orders/{id}/confirm", null).WithIfMatch(ifMatch));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await AssertVersionAsync(client, id, 2);
    }

    [Fact]
    public async Task If_match_star_on_a_missing_order_is_a_404()
    {
        var response = await NewTenant().SendAsync(ApiCalls.Post("/api/orders/ord_missing/confirm", null).WithIfMatch("*"));
        await response.AssertProblemAsync(404, "not-found");
    }

    [Theory]
    [InlineData("1")]
    [InlineData("\"1")]
    [InlineData("W/1")]
    [InlineData("*, \"1\"")]
    [InlineData("\"1\" \"2\"")]
    [InlineData("\"a\"b\"")]
    public async Task A_malformed_if_match_is_a_400_and_writes_nothing(string ifMatch)
    {
        var client = NewTenant();
        var (id, _) = await client.PlaceAsync();
        var response = await client.SendAsync(ApiCalls.Post($"/api/orders/{id}/confirm", null).WithIfMatch(ifMatch));
        Assert.Contains("If-Match", (await response.AssertProblemAsync(400, "validation")).ErrorFields());
        await AssertVersionAsync(client, id, 1);
    }

    // ---- 5. paging

    [Theory]
    [InlineData("page=2147483647")]
    [InlineData("page=2147483647&pageSize=100")]
    [InlineData("page=21474838&pageSize=100")]
    [InlineData("page=2147483648")]
    [InlineData("page=-2147483648")]
    public async Task A_page_past_the_offset_range_is_a_400(string query)
    {
        var response = await NewTenant().GetAsync("/api/orders?" + query);
        Assert.Contains("page", (await response.AssertProblemAsync(400, "validation")).ErrorFields());
    }

    [Fact]
    public async Task The_last_page_inside_the_offset_range_answers_an_empty_page()
    {
        var response = await NewTenant().GetAsync("/api/orders?page=21474837&pageSize=10");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, (await response.JsonAsync()).GetProperty("items").GetArrayLength());
    }
}

public sealed class SqliteHostileInputTests(SqliteApiFixture fixture) : HostileInputContract(fixture), IClassFixture<SqliteApiFixture>;

public sealed class PostgresHostileInputTests(PostgresApiFixture fixture) : HostileInputContract(fixture), IClassFixture<PostgresApiFixture>;

internal static class ResponseAssertions
{
    public static async Task EnsureSuccessStatusCodeAsync(this HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
            Assert.Fail($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
}
