namespace OrdersEs.Domain.Invoices;

/// <summary>The invoice's input limits, shared by the aggregate and the API's validators.</summary>
public static class InvoiceRules
{
    public const int MaxNameLength = 200;

    /// <summary>
    /// 1-200 characters, not only white space, no control character (U+0000-U+001F): the API refuses control
    /// characters in every JSON string already; this keeps events written by other callers as clean.
    /// </summary>
    internal static void RequireValidName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > MaxNameLength)
            throw new ArgumentException($"name must be 1-{MaxNameLength} characters.", nameof(name));
        if (name.Any(c => c < ' '))
            throw new ArgumentException("name must not contain control characters.", nameof(name));
    }
}
