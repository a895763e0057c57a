using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Domain.Invoices;

public enum InvoiceStatus
{
    Open,
    Closed,
}

/// <summary>
/// One invoice: created open with a name, renamed while open, closed once. Input limits throw
/// <see cref="ArgumentException"/>; state rules throw <see cref="InvoiceRuleException"/> (a 409 through the API).
/// </summary>
/// <remarks>The implicit parameterless constructor is what the feature conventions and the event replay use.</remarks>
public sealed class Invoice : AggregateRoot
{
    public string Name { get; private set; } = "";
    public InvoiceStatus Status { get; private set; }

    /// <summary>Creates the aggregate under <paramref name="id"/> (1-64 characters) with a valid name.</summary>
    public static Invoice Create(string id, string name)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength)
            throw new ArgumentException($"id must be 1-{MaxIdLength} characters.", nameof(id));
        InvoiceRules.RequireValidName(name);

        var created = new Invoice();
        created.Apply(new InvoiceCreated(id, name));
        return created;
    }

    public void Rename(string name)
    {
        InvoiceRules.RequireValidName(name);
        if (Status == InvoiceStatus.Closed)
            throw new InvoiceRuleException("A closed invoice cannot be renamed.");
        Apply(new InvoiceRenamed(Id, name));
    }

    public void Close()
    {
        if (Status == InvoiceStatus.Closed)
            throw new InvoiceRuleException("The invoice is already closed.");
        Apply(new InvoiceClosed(Id));
    }

    private void OnInvoiceCreated(InvoiceCreated e)
    {
        Id = e.InvoiceId;
        Name = e.Name;
        Status = InvoiceStatus.Open;
    }

    private void OnInvoiceRenamed(InvoiceRenamed e) => Name = e.Name;

    private void OnInvoiceClosed(InvoiceClosed e) => Status = InvoiceStatus.Closed;
}

/// <summary>A state rule of the invoice refused a command (a 409 problem).</summary>
public sealed class InvoiceRuleException(string message) : DomainRuleException(message);
