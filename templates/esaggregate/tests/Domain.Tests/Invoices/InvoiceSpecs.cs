using OrdersEs.Domain.EventSourcing;
using OrdersEs.Domain.Invoices;
using OrdersEs.Domain.Tests.Kit;
using Xunit;

namespace OrdersEs.Domain.Tests.Invoices;

/// <summary>The invoice's life cycle as given-when-then specs over its events.</summary>
public class InvoiceSpecs
{
    private const string Id = "inv_1";
    private static readonly InvoiceCreated Created = new(Id, "First name");

    [Fact]
    public void Creating_raises_InvoiceCreated_and_leaves_it_open()
    {
        var created = AggregateSpec.For<Invoice>()
            .When(() => Invoice.Create(Id, "First name"))
            .Then(Created);
        Assert.Equal(InvoiceStatus.Open, created.Status);
        Assert.Equal("First name", created.Name);
        Assert.Equal(Id, created.Id);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("tab\there")]
    public void Creating_with_an_invalid_name_is_refused(string name) =>
        AggregateSpec.For<Invoice>()
            .When(() => Invoice.Create(Id, name))
            .ThenThrows<ArgumentException>();

    [Fact]
    public void A_name_of_200_characters_is_taken_and_one_of_201_refused()
    {
        AggregateSpec.For<Invoice>()
            .When(() => Invoice.Create(Id, new string('n', InvoiceRules.MaxNameLength)))
            .Then(new InvoiceCreated(Id, new string('n', InvoiceRules.MaxNameLength)));
        AggregateSpec.For<Invoice>()
            .When(() => Invoice.Create(Id, new string('n', InvoiceRules.MaxNameLength + 1)))
            .ThenThrows<ArgumentException>();
    }

    [Fact]
    public void An_open_Invoice_is_renamed()
    {
        var renamed = AggregateSpec.For<Invoice>().Given(Created)
            .When(aggregate => aggregate.Rename("Second name"))
            .Then(new InvoiceRenamed(Id, "Second name"));
        Assert.Equal("Second name", renamed.Name);
    }

    [Fact]
    public void Renaming_to_an_invalid_name_is_refused() =>
        AggregateSpec.For<Invoice>().Given(Created)
            .When(aggregate => aggregate.Rename(new string('n', InvoiceRules.MaxNameLength + 1)))
            .ThenThrows<ArgumentException>();

    [Fact]
    public void An_open_Invoice_closes()
    {
        var closed = AggregateSpec.For<Invoice>().Given(Created, new InvoiceRenamed(Id, "Second name"))
            .When(aggregate => aggregate.Close())
            .Then(new InvoiceClosed(Id));
        Assert.Equal(InvoiceStatus.Closed, closed.Status);
        Assert.Equal("Second name", closed.Name);
    }

    [Fact]
    public void A_closed_Invoice_cannot_be_renamed() =>
        AggregateSpec.For<Invoice>().Given(Created, new InvoiceClosed(Id))
            .When(aggregate => aggregate.Rename("Too late"))
            .ThenThrows<InvoiceRuleException>();

    [Fact]
    public void A_closed_Invoice_cannot_be_closed_again()
    {
        var refused = AggregateSpec.For<Invoice>().Given(Created, new InvoiceClosed(Id))
            .When(aggregate => aggregate.Close())
            .ThenThrows<DomainRuleException>();
        Assert.IsType<InvoiceRuleException>(refused);
    }
}
