using Npgsql;
using OrdersEs.Infrastructure.Configuration;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Configuration;

public class ConnectionStringRedactorTests
{
    [Theory]
    [InlineData("Host=pg;Password=hunter2;Database=orders", "Host=pg;Password=***;Database=orders")]
    [InlineData("Host=pg;pwd = hunter2", "Host=pg;pwd=***")]
    [InlineData("Host=pg;Password=\"hunter2;x\";Database=orders", "Host=pg;Password=***;Database=orders")]
    [InlineData("Host=pg;Password='hunter2;x';Database=orders", "Host=pg;Password=***;Database=orders")]
    [InlineData("postgresql://app:hunter2@pg/orders", "postgresql://app:***@pg/orders")]
    [InlineData("postgresql://app:hun@ter2@pg/orders", "postgresql://app:***@pg/orders")]
    [InlineData("postgresql://app:hun/ter2@pg/orders", "postgresql://app:***@pg/orders")]
    [InlineData("postgresql://:hunter2@pg/orders", "postgresql://:***@pg/orders")]
    [InlineData("postgresql://pg:5432/orders", "postgresql://pg:5432/orders")]
    public void Passwords_are_masked_in_connection_strings_and_urls(string value, string redacted)
    {
        Assert.Equal(redacted, ConnectionStringRedactor.Redact(value));
    }

    [Fact]
    public void StoreConnection_prints_without_its_password_even_when_the_builder_quotes_it()
    {
        var connectionString = new NpgsqlConnectionStringBuilder { Host = "pg", Password = "hun;ter\"2" }.ConnectionString;

        var printed = new StoreConnection(DatabaseProvider.PostgreSql, connectionString).ToString();

        Assert.DoesNotContain("ter", printed);
        Assert.Contains("Host=pg", printed);
    }
}
