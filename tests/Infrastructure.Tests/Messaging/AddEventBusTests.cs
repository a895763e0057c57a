using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.Messaging;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Messaging;

public sealed class AddEventBusTests
{
    private static ServiceProvider Build(params (string Key, string? Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build();
        return new ServiceCollection().AddLogging().AddEventBus(configuration).BuildServiceProvider();
    }

    private static ConfigurationException BuildFails(params (string Key, string? Value)[] settings) =>
        Assert.Throws<ConfigurationException>(() => Build(settings));

    private static IEnumerable<string> HealthCheckNames(IServiceProvider services) =>
        services.GetService<IOptions<HealthCheckServiceOptions>>()?.Value.Registrations.Select(r => r.Name) ?? [];

    [Fact]
    public async Task Without_configuration_the_in_memory_bus_and_the_bridge_on_pyfly_events_are_registered()
    {
        await using var services = Build();

        var bus = Assert.IsType<InMemoryEventPublisher>(services.GetRequiredService<IEventPublisher>());
        Assert.Same(bus, services.GetRequiredService<InMemoryEventPublisher>());
        Assert.Equal("pyfly.events", services.GetRequiredService<EventSourcingPublisher>().Destination);
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("Memory")]
    [InlineData(" MEMORY ")]
    public async Task Provider_memory_is_case_insensitive(string provider)
    {
        await using var services = Build(("pyfly:eda:provider", provider));

        Assert.IsType<InMemoryEventPublisher>(services.GetRequiredService<IEventPublisher>());
    }

    [Fact]
    public async Task The_bridge_publishes_on_the_configured_destination_through_the_registered_bus()
    {
        await using var services = Build(("pyfly:eventsourcing:eda:destination", "service.events"));
        var received = new List<EventMessage>();
        using var _ = services.GetRequiredService<InMemoryEventPublisher>()
            .Subscribe("service.events", (m, _) => { received.Add(m); return Task.CompletedTask; });

        await services.GetRequiredService<EventSourcingPublisher>().PublishAsync(TestEnvelopes.Happened());

        Assert.Equal("service.events", Assert.Single(received).Destination);
    }

    [Fact]
    public async Task Provider_rabbitmq_registers_the_RabbitMQ_bus_without_connecting()
    {
        await using var services = Build(
            ("pyfly:eda:provider", "RabbitMQ"),
            ("pyfly:eda:rabbitmq:url", "amqp://app:s3cret@broker.invalid:5673/orders"));

        var bus = Assert.IsType<RabbitMqEventPublisher>(services.GetRequiredService<IEventPublisher>());
        Assert.Equal("amqp://broker.invalid:5673/orders", bus.DisplayUrl);
        Assert.NotNull(services.GetRequiredService<EventSourcingPublisher>());
        Assert.Contains(EventBusHealthCheck.Name, HealthCheckNames(services));
    }

    [Fact]
    public async Task Provider_rabbitmq_defaults_to_the_local_guest_broker()
    {
        await using var services = Build(("pyfly:eda:provider", "rabbitmq"));

        Assert.Equal("amqp://localhost:5672/", services.GetRequiredService<RabbitMqEventPublisher>().DisplayUrl);
    }

    [Fact]
    public async Task Provider_none_registers_neither_a_bus_nor_the_bridge_nor_the_health_check()
    {
        await using var services = Build(("pyfly:eda:provider", "none"));

        Assert.Null(services.GetService<IEventPublisher>());
        Assert.Null(services.GetService<EventSourcingPublisher>());
        Assert.DoesNotContain(EventBusHealthCheck.Name, HealthCheckNames(services));
    }

    [Fact]
    public void An_unknown_provider_stops_start_up_naming_the_key_the_value_and_the_accepted_values()
    {
        var error = BuildFails(("pyfly:eda:provider", "kafka"));

        Assert.Contains("pyfly:eda:provider", error.Message);
        Assert.Contains("'kafka'", error.Message);
        Assert.Contains("memory, rabbitmq, none", error.Message);
    }

    [Theory]
    [InlineData("http://app:s3cret@broker:5672/")]
    [InlineData("amqp://app:s3cret@broker:notaport/")]
    [InlineData("amqp://app:s3c/ret@broker:5672/")]
    [InlineData("amqp://app:s3cr@et@/")]
    [InlineData("app:s3cret@broker")]
    [InlineData("amqp://app:s3cret@broker:5672/a/b")]
    public void A_malformed_rabbitmq_url_stops_start_up_naming_the_key_and_masking_the_password(string url)
    {
        var error = BuildFails(("pyfly:eda:provider", "rabbitmq"), ("pyfly:eda:rabbitmq:url", url));

        Assert.Contains("pyfly:eda:rabbitmq:url", error.Message);
        Assert.Contains("app:***@", error.Message);
        Assert.DoesNotContain("s3c", error.Message);
        Assert.Contains("amqp://user:password@host:port/vhost", error.Message);
    }

    [Fact]
    public void An_empty_destination_stops_start_up_naming_the_key()
    {
        var error = BuildFails(("pyfly:eventsourcing:eda:destination", " "));

        Assert.Contains("pyfly:eventsourcing:eda:destination", error.Message);
    }

    [Fact]
    public async Task The_in_memory_bus_reports_healthy_under_the_ready_tag()
    {
        await using var services = Build();

        var report = await services.GetRequiredService<HealthCheckService>()
            .CheckHealthAsync(check => check.Tags.Contains("ready"));

        Assert.Equal(HealthStatus.Healthy, report.Entries[EventBusHealthCheck.Name].Status);
    }

    [Fact]
    public async Task The_rabbitmq_bus_reports_unhealthy_when_the_broker_cannot_be_reached()
    {
        await using var services = Build(
            ("pyfly:eda:provider", "rabbitmq"),
            ("pyfly:eda:rabbitmq:url", RabbitMqTestBroker.ClosedPortUrl()));

        var report = await services.GetRequiredService<HealthCheckService>()
            .CheckHealthAsync(check => check.Tags.Contains("ready"));

        var entry = report.Entries[EventBusHealthCheck.Name];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("unreachable", entry.Description);
        Assert.DoesNotContain("guest:guest", entry.Description);
    }
}
