using System.Text.RegularExpressions;

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
    // Quoted values may hold ';' (builders quote them so), so a quoted password is masked up to its closing quote.
    private static readonly Regex PasswordPair =
        new(@"(?i)(password|pwd)\s*=\s*(""(?:[^""]|"""")*""|'(?:[^']|'')*'|[^;]*)", RegexOptions.Compiled);

    // A URL's password runs from the first ':' of the user info to the last '@': unencoded '@' or '/' in a
    // password then over-masks the host rather than leaking part of the secret.
    private static readonly Regex UrlPassword = new(@"(?<=://[^:/@\s]*:)\S*(?=@)", RegexOptions.Compiled);

    public static string Redact(string value) =>
        UrlPassword.Replace(PasswordPair.Replace(value, "$1=***"), "***");
}
