using System.Net.Http.Json;
using Xunit;

namespace OrdersEs.Api.Tests.Orders;

/// <summary>Requests of the sample's order API shared by its tests.</summary>
public static class OrderCalls
{
    public static readonly object OneLine = new { customerId = "customer-1", currency = "EUR", lines = new[] { new { sku = "SKU-1", quantity = 2, unitPrice = 1250 } } };

    /// <summary>Places an order (201 expected) and answers its id and the response.</summary>
    public static async Task<(string Id, HttpResponseMessage Response)> PlaceAsync(this HttpClient client, object? body = null)
    {
        var response = await client.PostAsJsonAsync("/api/orders", body ?? OneLine);
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        return ((await response.JsonAsync()).GetProperty("id").GetString()!, response);
    }
}
