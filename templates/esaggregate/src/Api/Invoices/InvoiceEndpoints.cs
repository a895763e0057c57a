using OrdersEs.Api.Http;

namespace OrdersEs.Api.Invoices;

/// <summary>Maps every invoice use case under <c>/api/invoices</c>; each lives in its own file.</summary>
public sealed class InvoiceEndpoints : IEndpointGroup
{
    public void Map(IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/invoices").WithTags("Invoices");
        CreateInvoiceEndpoint.Map(group);
        RenameInvoiceEndpoint.Map(group);
        CloseInvoiceEndpoint.Map(group);
        GetInvoiceEndpoint.Map(group);
        ListInvoicesEndpoint.Map(group);
        GetInvoiceEventsEndpoint.Map(group);
    }
}
