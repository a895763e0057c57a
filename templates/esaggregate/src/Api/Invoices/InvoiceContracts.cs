using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Invoices;

namespace OrdersEs.Api.Invoices;

/// <summary>What every command answers: the invoice and the version the write left it at (also sent as <c>ETag</c>).</summary>
public sealed record InvoiceVersionResponse(string Id, int Version)
{
    internal static InvoiceVersionResponse Of(Invoice aggregate) => new(aggregate.Id, aggregate.Version);

    /// <summary>The success answer of every command on an existing invoice: 200 with <c>{id, version}</c> and the <c>ETag</c>.</summary>
    internal Ok<InvoiceVersionResponse> AsOk(HttpContext http) => ETags.Ok(http, Version, this);
}

/// <summary>The name rule of the contract: 1-200 characters (control characters are refused when the JSON is read).</summary>
internal static class InvoiceNameRule
{
    public static IRuleBuilderOptions<T, string?> ValidInvoiceName<T>(this IRuleBuilder<T, string?> rule) =>
        rule.NotEmpty().MaximumLength(InvoiceRules.MaxNameLength);
}
