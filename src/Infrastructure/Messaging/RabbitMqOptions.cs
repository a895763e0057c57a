using OrdersEs.Infrastructure.Configuration;
using RabbitMQ.Client;

namespace OrdersEs.Infrastructure.Messaging;

/// <summary>Where the RabbitMQ broker is and how long the publisher waits for it before giving up on a call.</summary>
public sealed record RabbitMqOptions
{
    public const string UrlKey = "pyfly:eda:rabbitmq:url";

    /// <summary>The .NET alias of the broker URL (what Aspire hands a service), used when <see cref="UrlKey"/> is not set.</summary>
    public const string ConnectionStringKey = "ConnectionStrings:RabbitMq";
    public const string DefaultUrl = "amqp://guest:guest@localhost:5672/";

    /// <summary>The broker URL, <c>amqp://user:password@host:port/vhost</c> (or <c>amqps://</c>).</summary>
    public required Uri Url { get; init; }

    /// <summary>Bound on opening a TCP connection and the AMQP handshake.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Bound on one whole publish: connecting if needed, declaring the exchange, and the broker's confirm.</summary>
    public TimeSpan PublishTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Pause between automatic reconnection attempts after the broker went away.</summary>
    public TimeSpan RecoveryInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Most channels open at once, hence most publishes awaiting a confirm at once: throughput is about this many
    /// divided by the broker's confirm time (a few ms for persistent messages), so it sets the outbox's ceiling.
    /// </summary>
    public int MaxChannels { get; init; } = 32;

    /// <summary>Connection name shown in the RabbitMQ management UI.</summary>
    public string ClientName { get; init; } = "OrdersEs";

    /// <summary>The URL without its user information, safe for logs and exception messages.</summary>
    public string DisplayUrl => $"{Url.Scheme}://{Url.Host}:{(Url.IsDefaultPort ? (Url.Scheme == "amqps" ? 5671 : 5672) : Url.Port)}{Url.AbsolutePath}";

    /// <summary>Parses a broker URL; a malformed one throws <see cref="ConfigurationException"/> naming <paramref name="key"/>, with any password masked.</summary>
    public static RabbitMqOptions FromUrl(string url, string key = UrlKey)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri)
            && uri.Scheme is "amqp" or "amqps"
            && !string.IsNullOrEmpty(uri.Host))
        {
            try
            {
                // The client's own parser also checks the port and the virtual host.
                _ = new ConnectionFactory { Uri = uri };
                return new RabbitMqOptions { Url = uri };
            }
            catch (Exception e) when (e is ArgumentException or FormatException or UriFormatException)
            {
                // falls through to the message below
            }
        }

        throw new ConfigurationException(key, Redact(url), "not a RabbitMQ URL",
            "amqp://user:password@host:port/vhost or amqps://user:password@host:port/vhost");
    }

    /// <summary>
    /// Masks the password of a URL, even a malformed one: everything between the first ':' of the user
    /// information and the last '@' (a password may itself hold '/' or '@').
    /// </summary>
    public static string Redact(string url)
    {
        var start = url.IndexOf("://", StringComparison.Ordinal) is var scheme and >= 0 ? scheme + 3 : 0;
        var at = url.LastIndexOf('@');
        if (at > start)
        {
            var colon = url.IndexOf(':', start, at - start);
            if (colon >= 0) url = string.Concat(url.AsSpan(0, colon + 1), "***", url.AsSpan(at));
        }
        return ConnectionStringRedactor.Redact(url);
    }
}
