using System.Text.RegularExpressions;

namespace OrdersEs.Domain.Orders;

/// <summary>The order's input limits, shared by the aggregate and the API's validators.</summary>
public static partial class OrderRules
{
    public const int MaxIdLength = 64;
    public const int MaxLines = 100;
    public const int MaxSkuLength = 64;
    public const int MaxQuantity = 10_000;
    public const long MaxUnitPrice = 100_000_000;
    public const int MaxTrackingNumberLength = 64;
    public const int MaxReasonLength = 500;

    [GeneratedRegex("^[A-Z]{3}$")]
    public static partial Regex CurrencyPattern();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    public static partial Regex SkuPattern();

    internal static void RequireLength(string? value, int max, string name)
    {
        if (string.IsNullOrEmpty(value) || value.Length > max)
            throw new ArgumentException($"{name} must be 1-{max} characters.", name);
    }

    internal static void RequireValid(OrderLine line)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (line.Sku is null || !SkuPattern().IsMatch(line.Sku))
            throw new ArgumentException("sku must be 1-64 letters, digits, '-', '_' or '.'.", "sku");
        if (line.Quantity is < 1 or > MaxQuantity)
            throw new ArgumentOutOfRangeException("quantity", line.Quantity, $"quantity must be 1-{MaxQuantity}.");
        if (line.UnitPrice is < 0 or > MaxUnitPrice)
            throw new ArgumentOutOfRangeException("unitPrice", line.UnitPrice, $"unitPrice must be 0-{MaxUnitPrice}.");
    }
}
