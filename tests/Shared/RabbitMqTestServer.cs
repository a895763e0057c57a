using Testcontainers.RabbitMq;

namespace OrdersEs.TestSupport;

public static partial class TestServers
{
    public const string RabbitMqVariable = "ORDERSES_TEST_RABBITMQ_URL";

    /// <summary>RabbitMQ, as an <c>amqp://</c> URL: <c>ORDERSES_TEST_RABBITMQ_URL</c>, else a <c>rabbitmq:4-alpine</c> container.</summary>
    public static TestServer RabbitMq { get; } = new("RabbitMQ", RabbitMqVariable, async cancellationToken =>
    {
        var container = new RabbitMqBuilder("rabbitmq:4-alpine").Build();
        await container.StartAsync(cancellationToken);
        return (container.GetConnectionString(), (IAsyncDisposable)container);
    });
}
