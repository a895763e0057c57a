using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OrdersEs.Infrastructure.Messaging;
using OrdersEs.TestSupport;
using RabbitMQ.Client;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Messaging;

/// <summary>
/// A real broker, <see cref="TestServers.RabbitMq"/>: <c>ORDERSES_TEST_RABBITMQ_URL</c> (with
/// <c>ORDERSES_TEST_RABBITMQ_CTL</c> to stop and start it), else a Testcontainers container when a Docker engine
/// answers; tests skip with the reason when there is neither.
/// </summary>
public static class RabbitMqTestBroker
{
    public const string CtlVariable = "ORDERSES_TEST_RABBITMQ_CTL";

    /// <summary>The broker URL, or a skip of the calling test.</summary>
    public static Task<string> UrlAsync() => TestServers.RabbitMq.AddressOrSkipAsync();

    /// <summary>A name no other test run uses, so exchanges and queues never collide.</summary>
    public static string UniqueName(string purpose) => $"orderses.test.{purpose}.{Guid.NewGuid():N}";

    /// <summary>An <c>amqp://</c> URL on a local port nothing listens on.</summary>
    public static string ClosedPortUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"amqp://guest:guest@127.0.0.1:{port}/";
    }

    public static RabbitMqEventPublisher Publisher(string url) =>
        new(RabbitMqOptions.FromUrl(url) with { PublishTimeout = TimeSpan.FromSeconds(5), RecoveryInterval = TimeSpan.FromSeconds(1) });

    /// <summary><c>rabbitmqctl stop_app</c>: the node stays up but closes every connection and refuses new ones.</summary>
    public static Task StopAppAsync() => RunCtlAsync("stop_app");

    public static Task StartAppAsync() => RunCtlAsync("start_app");

    // The broker of the environment variables is driven through ORDERSES_TEST_RABBITMQ_CTL, a container's through exec.
    private static async Task RunCtlAsync(string command)
    {
        var ctl = Environment.GetEnvironmentVariable(CtlVariable);
        if (string.IsNullOrWhiteSpace(ctl))
        {
            if (await TestServers.RabbitMq.ContainerAsync() is not { } container)
                throw SkipNow($"Cannot stop or start the broker: set {CtlVariable} (.ci/rabbitmq.sh start prints it)");
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var result = await container.ExecAsync(["rabbitmqctl", command], limit.Token);
            if (result.ExitCode != 0)
                throw new InvalidOperationException($"'rabbitmqctl {command}' in the container exited with {result.ExitCode}: {result.Stdout} {result.Stderr}");
            return;
        }

        using var process = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", $"{ctl} {command}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"'{ctl} {command}' exited with {process.ExitCode}: {await output} {await error}");
    }

    private static Exception SkipNow(string reason)
    {
        Assert.Skip(reason);
        return new UnreachableException();
    }
}

/// <summary>A test's own view of the broker: a connection, a channel and a queue bound to an exchange.</summary>
public sealed class BoundQueue : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;

    private BoundQueue(IConnection connection, IChannel channel, string name)
    {
        _connection = connection;
        _channel = channel;
        Name = name;
    }

    public string Name { get; }

    /// <summary>Declares the exchange as the publisher does (durable topic) and binds a new exclusive queue to it.</summary>
    public static async Task<BoundQueue> BindAsync(string url, string exchange, string routingKey)
    {
        var connection = await new ConnectionFactory { Uri = new Uri(url) }.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = await channel.QueueDeclareAsync(queue: "", durable: false, exclusive: true, autoDelete: true);
        await channel.QueueBindAsync(queue.QueueName, exchange, routingKey);
        return new BoundQueue(connection, channel, queue.QueueName);
    }

    /// <summary>The next message on the queue, waiting up to <paramref name="timeout"/>; null when none came.</summary>
    public async Task<BasicGetResult?> NextAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var result = await _channel.BasicGetAsync(Name, autoAck: true);
            if (result is not null || deadline.Elapsed > timeout) return result;
            await Task.Delay(50);
        }
    }

    public static string Text(object? headerValue) => headerValue switch
    {
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        null => throw new ArgumentNullException(nameof(headerValue)),
        _ => headerValue.ToString()!,
    };

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
