using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Messaging;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Configuration;

/// <summary>
/// <c>ConnectionStrings:EventStore</c> and <c>ConnectionStrings:RabbitMq</c>, what .NET tooling and Aspire hand a service,
/// are aliases below the <c>pyfly:</c> keys: used only when no <c>pyfly:</c> URL is set.
/// </summary>
public class ConnectionStringAliasTests
{
    private const string AspirePostgres = "Host=pg.aspire.internal;Port=6543;Username=postgres;Password=s3cret;Database=orders";

    private static IConfiguration Configuration(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, v.Value))).Build();

    private static async Task<EventSourcingSettings> SettingsAsync(params (string Key, string? Value)[] values)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddEventSourcing(Configuration([("pyfly:eventsourcing:enabled", "true"), ("pyfly:eventsourcing:store:provider", "efcore"),
            ("pyfly:eventsourcing:snapshot:provider", "efcore"), .. values]));
        await using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<EventSourcingSettings>();
    }

    [Fact]
    public async Task The_event_store_alias_is_used_by_both_stores_when_no_pyfly_url_is_set()
    {
        var settings = await SettingsAsync((EventSourcingOptions.ConnectionStringKey, AspirePostgres));
        Assert.Equal(EventSourcingOptions.ConnectionStringKey, settings.Store.UrlKey);
        Assert.Equal(EventSourcingOptions.ConnectionStringKey, settings.Snapshot.UrlKey);
        Assert.Equal(DatabaseProvider.PostgreSql, settings.Store.Connection!.Provider);
        var connection = new NpgsqlConnectionStringBuilder(settings.Store.Connection.ConnectionString);
        Assert.Equal(("pg.aspire.internal", 6543, "orders"), (connection.Host, connection.Port, connection.Database));
        Assert.True(settings.SnapshotsShareEventDatabase);
    }

    [Theory]
    [InlineData("pyfly:eventsourcing:store:url")]
    [InlineData("pyfly:data:relational:url")]
    public async Task A_pyfly_url_wins_over_the_alias(string pyflyKey)
    {
        var settings = await SettingsAsync((pyflyKey, "sqlite:///./pyfly-wins.db"), (EventSourcingOptions.ConnectionStringKey, AspirePostgres));
        Assert.Equal(pyflyKey, settings.Store.UrlKey);
        Assert.Equal(DatabaseProvider.Sqlite, settings.Store.Connection!.Provider);
    }

    [Fact]
    public async Task A_bad_alias_value_stops_start_up_naming_the_alias()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => SettingsAsync((EventSourcingOptions.ConnectionStringKey, "mongodb://nope")));
        Assert.True(error is ConfigurationException or Microsoft.Extensions.Options.OptionsValidationException, error.GetType().Name);
        Assert.Contains(EventSourcingOptions.ConnectionStringKey, error.Message);
    }

    [Fact]
    public async Task The_broker_alias_is_used_when_pyfly_names_no_broker_url_and_loses_to_it_otherwise()
    {
        static async Task<string> BrokerAsync(params (string Key, string? Value)[] values)
        {
            await using var provider = new ServiceCollection().AddLogging()
                .AddEventBus(Configuration([("pyfly:eda:provider", "rabbitmq"), .. values])).BuildServiceProvider();
            return provider.GetRequiredService<RabbitMqEventPublisher>().DisplayUrl;
        }

        Assert.Equal("amqp://mq.aspire.internal:5673/", await BrokerAsync((RabbitMqOptions.ConnectionStringKey, "amqp://guest:pw@mq.aspire.internal:5673")));
        Assert.Equal("amqp://pyfly-broker:5672/", await BrokerAsync(
            (RabbitMqOptions.UrlKey, "amqp://pyfly-broker:5672/"), (RabbitMqOptions.ConnectionStringKey, "amqp://guest:pw@mq.aspire.internal:5673")));
        var error = Assert.Throws<ConfigurationException>(() =>
            new ServiceCollection().AddEventBus(Configuration(("pyfly:eda:provider", "rabbitmq"), (RabbitMqOptions.ConnectionStringKey, "http://not-amqp"))));
        Assert.Contains(RabbitMqOptions.ConnectionStringKey, error.Message);
    }
}
