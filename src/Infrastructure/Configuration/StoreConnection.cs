namespace OrdersEs.Infrastructure.Configuration;

/// <summary>The relational databases the EF Core stores run on.</summary>
public enum DatabaseProvider
{
    Sqlite,
    PostgreSql,
}

/// <summary>A parsed store URL: which database, and its ADO.NET connection string.</summary>
public sealed record StoreConnection(DatabaseProvider Provider, string ConnectionString)
{
    /// <summary>The connection string with any password masked, safe for logs and error messages.</summary>
    public override string ToString() => $"{Provider}: {ConnectionStringRedactor.Redact(ConnectionString)}";
}

/// <summary>Masks passwords in connection strings and URLs before they reach a log or a message.</summary>
public static class ConnectionStringRedactor
{
    public static string Redact(string value) =>
        System.Text.RegularExpressions.Regex.Replace(
            System.Text.RegularExpressions.Regex.Replace(value, @"(?i)(password|pwd)\s*=\s*[^;]*", "$1=***"),
            @"(?<=://[^:/@\s]+:)[^@\s]+(?=@)", "***");
}
