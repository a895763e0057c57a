using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Domain.Invoices;

public sealed record InvoiceCreated(string InvoiceId, string Name) : DomainEvent;

public sealed record InvoiceRenamed(string InvoiceId, string Name) : DomainEvent;

public sealed record InvoiceClosed(string InvoiceId) : DomainEvent;
