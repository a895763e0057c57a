using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using OrdersEs.Infrastructure.Configuration;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Snapshots;
using OrdersEs.Infrastructure.Snapshots.EfCore;
using OrdersEs.Infrastructure.Tests.EventSourcing;
using Xunit;
using static OrdersEs.Infrastructure.Tests.Configuration.ConfigurationHarness;

namespace OrdersEs.Infrastructure.Tests.Configuration;

public class AddEventSourcingTests
{
    private const string Enabled = "pyfly:eventsourcing:enabled";
    private const string StoreProviderKey = "pyfly:eventsourcing:store:provider";
    private const string StoreUrlKey = "pyfly:eventsourcing:store:url";
    private const string SnapshotProviderKey = "pyfly:eventsourcing:snapshot:provider";
    private const string SnapshotUrlKey = "pyfly:eventsourcing:snapshot:url";
    private const string SnapshotIntervalKey = "pyfly:eventsourcing:snapshot:interval";
    private const string DataRelationalUrlKey = "pyfly:data:relational:url";

    private static EventSourcingSettings Settings(params (string Key, string? Value)[] values) =>
        Provider([(Enabled, "true"), .. values]).GetRequiredService<EventSourcingSettings>();

    private static string StartUpFailure(params (string Key, string? Value)[] values)
    {
        var provider = Provider([(Enabled, "true"), .. values]);
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        return error.Message;
    }

    private static string DataSource(StoreConnection? connection)
    {
        Assert.NotNull(connection);
        Assert.Equal(DatabaseProvider.Sqlite, connection.Provider);
        return new SqliteConnectionStringBuilder(connection.ConnectionString).DataSource;
    }

    private static string PostgreSqlHost(StoreConnection? connection)
    {
        Assert.NotNull(connection);
        Assert.Equal(DatabaseProvider.PostgreSql, connection.Provider);
        return new NpgsqlConnectionStringBuilder(connection.ConnectionString).Host!;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("false")]
    [InlineData("False")]
    public void Disabled_module_registers_nothing(string? enabled)
    {
        var services = new ServiceCollection();

        services.AddEventSourcing(ConfigurationOf((Enabled, enabled), (StoreProviderKey, "mongodb"), (StoreUrlKey, "nonsense")), typeof(Counter).Assembly);

        Assert.Empty(services);
    }

    [Fact]
    public void Enabled_that_is_not_a_boolean_is_rejected_naming_the_key()
    {
        var error = Assert.Throws<ConfigurationException>(() => new ServiceCollection().AddEventSourcing(ConfigurationOf((Enabled, "yes"))));

        Assert.Contains(Enabled, error.Message);
        Assert.Contains("'yes'", error.Message);
        Assert.Contains("'true' or 'false'", error.Message);
    }

    [Fact]
    public void Repository_of_a_disabled_module_fails_naming_the_enabled_key()
    {
        var provider = Provider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<EventSourcedRepository<Counter>>());
        Assert.Contains(Enabled, error.Message);
    }

    [Fact]
    public void Enabled_module_defaults_to_memory_stores_and_interval_100()
    {
        var provider = Provider((Enabled, "true"));
        provider.GetRequiredService<IStartupValidator>().Validate();

        var settings = provider.GetRequiredService<EventSourcingSettings>();
        Assert.Equal(new ResolvedStore(StoreProvider.Memory, null, null), settings.Store);
        Assert.Equal(new ResolvedStore(StoreProvider.Memory, null, null), settings.Snapshot);
        Assert.Equal(100, provider.GetRequiredService<RepositoryOptions>().SnapshotInterval);
        Assert.IsType<InMemoryEventStore>(provider.GetRequiredService<IEventStore>());
        Assert.IsType<InMemorySnapshotStore>(provider.GetRequiredService<ISnapshotStore>());
    }

    [Fact]
    public async Task Enabled_module_saves_and_loads_an_aggregate_through_the_registered_repository()
    {
        var counters = Provider((Enabled, "true")).GetRequiredService<EventSourcedRepository<Counter>>();
        var counter = Counter.Start("c-1");
        counter.Tally("ann", [new ThingCount("SKU-1", 1250), new ThingCount("SKU-2", 1250)]);

        await counters.SaveAsync(counter);

        var loaded = await counters.LoadAsync("c-1");
        Assert.NotNull(loaded);
        Assert.Equal(2500, loaded.Total);
        Assert.Equal(counter.Things, loaded.Things);
    }

    [Theory]
    [InlineData("efcore")]
    [InlineData("EfCore")]
    [InlineData("sqlalchemy")]
    [InlineData("SQLAlchemy")]
    [InlineData(" efcore ")]
    public void Efcore_provider_is_case_insensitive_and_answers_to_sqlalchemy(string name)
    {
        var settings = Settings((StoreProviderKey, name), (SnapshotProviderKey, name));

        Assert.Equal(StoreProvider.EfCore, settings.Store.Provider);
        Assert.Equal(StoreProvider.EfCore, settings.Snapshot.Provider);
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("MEMORY")]
    [InlineData("")]
    public void Memory_provider_is_case_insensitive_and_blank_means_memory(string name)
    {
        Assert.Equal(StoreProvider.Memory, Settings((StoreProviderKey, name)).Store.Provider);
    }

    [Fact]
    public void Efcore_without_any_url_uses_the_sqlite_app_db_default()
    {
        var settings = Settings((StoreProviderKey, "efcore"), (SnapshotProviderKey, "efcore"));

        Assert.Equal("./app.db", DataSource(settings.Store.Connection));
        Assert.Equal("./app.db", DataSource(settings.Snapshot.Connection));
        Assert.Null(settings.Store.UrlKey);
    }

    [Fact]
    public void Store_url_falls_back_to_data_relational_url()
    {
        var settings = Settings((StoreProviderKey, "efcore"), (DataRelationalUrlKey, "postgresql://app:pw@shared-pg/orders"));

        Assert.Equal("shared-pg", PostgreSqlHost(settings.Store.Connection));
        Assert.Equal(DataRelationalUrlKey, settings.Store.UrlKey);
    }

    [Fact]
    public void Snapshot_url_falls_back_to_data_relational_url()
    {
        var settings = Settings((SnapshotProviderKey, "efcore"), (DataRelationalUrlKey, "sqlite:///shared.db"));

        Assert.Equal("shared.db", DataSource(settings.Snapshot.Connection));
        Assert.Equal(DataRelationalUrlKey, settings.Snapshot.UrlKey);
    }

    [Fact]
    public void Own_urls_win_over_data_relational_url()
    {
        var settings = Settings(
            (StoreProviderKey, "efcore"), (StoreUrlKey, "postgresql://app:pw@events-pg/orders"),
            (SnapshotProviderKey, "efcore"), (SnapshotUrlKey, "sqlite:///snapshots.db"),
            (DataRelationalUrlKey, "sqlite:///shared.db"));

        Assert.Equal("events-pg", PostgreSqlHost(settings.Store.Connection));
        Assert.Equal(StoreUrlKey, settings.Store.UrlKey);
        Assert.Equal("snapshots.db", DataSource(settings.Snapshot.Connection));
        Assert.Equal(SnapshotUrlKey, settings.Snapshot.UrlKey);
    }

    [Fact]
    public void Url_of_a_memory_provider_is_not_parsed()
    {
        var provider = Provider((Enabled, "true"), (StoreUrlKey, "not a url"), (DataRelationalUrlKey, "mysql://nope"));

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.Null(provider.GetRequiredService<EventSourcingSettings>().Store.Connection);
    }

    [Fact]
    public void Snapshot_interval_feeds_repository_options()
    {
        Assert.Equal(25, Provider((Enabled, "true"), (SnapshotIntervalKey, "25")).GetRequiredService<RepositoryOptions>().SnapshotInterval);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    public void Snapshot_interval_below_one_stops_start_up_naming_the_key(string interval)
    {
        var message = StartUpFailure((SnapshotIntervalKey, interval));

        Assert.Contains(SnapshotIntervalKey, message);
        Assert.Contains($"'{interval}'", message);
        Assert.Contains("greater than 0", message);
    }

    [Fact]
    public void Snapshot_interval_that_is_not_a_number_stops_start_up_naming_the_key()
    {
        var error = Assert.Throws<ConfigurationException>(() => Provider((Enabled, "true"), (SnapshotIntervalKey, "often")));

        Assert.Equal(SnapshotIntervalKey, error.Key, StringComparer.OrdinalIgnoreCase);
        Assert.Contains("'often'", error.Message);
        Assert.Contains("whole number", error.Message);
    }

    [Theory]
    [InlineData("pyfly:eventsourcing:outbox:MaxAttempts", "five", "whole number")]
    [InlineData("pyfly:eventsourcing:outbox:BatchSize", "99999999999", "whole number")]
    [InlineData("pyfly:eventsourcing:outbox:ClaimLease", "a minute", "duration")]
    [InlineData("pyfly:eventsourcing:outbox:PollInterval", "", "duration")]
    public void Outbox_value_of_the_wrong_type_stops_start_up_naming_the_key(string key, string value, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => Provider((Enabled, "true"), (key, value)));

        Assert.Equal(key, error.Key, StringComparer.OrdinalIgnoreCase);
        Assert.Contains($"'{value}'", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain(Environment.NewLine, error.Message);
    }

    [Fact]
    public void Outbox_value_out_of_range_stops_start_up_naming_the_key()
    {
        var provider = Provider((Enabled, "true"), ("pyfly:eventsourcing:outbox:MaxAttempts", "0"));

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("'pyfly:eventsourcing:outbox:MaxAttempts'", error.Message);
    }

    [Fact]
    public void Outbox_claim_renewal_not_shorter_than_the_lease_stops_start_up_naming_the_key()
    {
        var provider = Provider((Enabled, "true"), ("pyfly:eventsourcing:outbox:ClaimLease", "00:00:05"),
            ("pyfly:eventsourcing:outbox:ClaimRenewInterval", "00:00:05"));

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("'pyfly:eventsourcing:outbox:ClaimRenewInterval'", error.Message);
        Assert.Contains("less than ClaimLease", error.Message);
    }

    [Theory]
    [InlineData(StoreProviderKey)]
    [InlineData(SnapshotProviderKey)]
    public void Unknown_provider_stops_start_up_naming_key_value_and_accepted_values(string key)
    {
        var message = StartUpFailure((key, "mongodb"));

        Assert.Contains(key, message);
        Assert.Contains("'mongodb'", message);
        Assert.Contains("'memory'", message);
        Assert.Contains("'efcore'", message);
        Assert.Contains("'sqlalchemy'", message);
    }

    [Fact]
    public void Unknown_provider_also_fails_the_first_resolve_without_a_host()
    {
        var provider = Provider((Enabled, "true"), (StoreProviderKey, "mongodb"));

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IEventStore>());
        Assert.Contains(StoreProviderKey, error.Message);
    }

    [Theory]
    [InlineData(StoreUrlKey, StoreUrlKey)]
    [InlineData(DataRelationalUrlKey, DataRelationalUrlKey)]
    public void Bad_url_stops_start_up_naming_the_key_it_came_from_with_password_masked(string urlKey, string reportedKey)
    {
        var message = StartUpFailure((StoreProviderKey, "sqlalchemy"), (urlKey, "postgresql+asyncpg://app:hunter2@pg:port/orders"));

        Assert.Contains(reportedKey, message);
        Assert.Contains("postgresql+asyncpg://app:***@pg:port/orders", message);
        Assert.Contains("sqlite:///:memory:", message);
        Assert.DoesNotContain("hunter2", message);
    }

    [Fact]
    public void Efcore_providers_register_the_efcore_stores()
    {
        var provider = Provider((Enabled, "true"), (StoreProviderKey, "efcore"), (SnapshotProviderKey, "efcore"));

        Assert.IsType<EfCoreEventStore>(provider.GetRequiredService<IEventStore>());
        Assert.IsType<EfCoreSnapshotStore>(provider.GetRequiredService<ISnapshotStore>());
    }

    [Fact]
    public void Providers_are_chosen_per_store()
    {
        var provider = Provider((Enabled, "true"), (StoreProviderKey, "efcore"), (SnapshotProviderKey, "memory"));

        Assert.IsType<EfCoreEventStore>(provider.GetRequiredService<IEventStore>());
        Assert.IsType<InMemorySnapshotStore>(provider.GetRequiredService<ISnapshotStore>());
        Assert.Equal("./app.db", DataSource(provider.GetRequiredService<EventStoreDatabase>().Connection));
    }

    [Theory]
    [InlineData("sqlite:///orders.db", "sqlite:///orders.db")]
    [InlineData("sqlite:///:memory:", "sqlite:///:memory:")]
    [InlineData("postgresql://app:pw@pg/orders", "postgresql+asyncpg://app:pw@pg:5432/orders")]
    [InlineData("postgresql://app:pw@pg/orders", "Host=pg;Database=orders;Username=app;Password=pw")]
    public void Store_and_snapshots_on_the_same_database_share_one_EventStoreDatabase(string storeUrl, string snapshotUrl)
    {
        var provider = Provider((Enabled, "true"), (StoreProviderKey, "efcore"), (SnapshotProviderKey, "efcore"),
            (StoreUrlKey, storeUrl), (SnapshotUrlKey, snapshotUrl));

        var events = provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events);
        var snapshots = provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Snapshots);
        Assert.Same(events, snapshots);
        Assert.Same(events, provider.GetRequiredService<EventStoreDatabase>());
        Assert.Equal(provider.GetRequiredService<EventSourcingSettings>().Store.Connection, events.Connection);
    }

    [Fact]
    public void Store_and_snapshots_on_fallback_url_share_one_EventStoreDatabase()
    {
        var provider = Provider((Enabled, "true"), (StoreProviderKey, "efcore"), (SnapshotProviderKey, "efcore"),
            (DataRelationalUrlKey, "sqlite:///:memory:"));

        Assert.Same(provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events),
            provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Snapshots));
    }

    [Fact]
    public void Store_and_snapshots_on_different_databases_get_one_EventStoreDatabase_each()
    {
        var provider = Provider((Enabled, "true"), (StoreProviderKey, "efcore"), (SnapshotProviderKey, "efcore"),
            (StoreUrlKey, "sqlite:///events.db"), (SnapshotUrlKey, "sqlite:///snapshots.db"));

        var events = provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Events);
        var snapshots = provider.GetRequiredKeyedService<EventStoreDatabase>(EventStoreDatabaseKeys.Snapshots);
        Assert.NotSame(events, snapshots);
        Assert.Equal("events.db", DataSource(events.Connection));
        Assert.Equal("snapshots.db", DataSource(snapshots.Connection));
        Assert.Same(events, provider.GetRequiredService<EventStoreDatabase>());
    }

    [Fact]
    public void Upper_case_keys_as_environment_variables_spell_them_work()
    {
        var provider = Provider(ConfigurationOf(
            ("PYFLY:EVENTSOURCING:ENABLED", "TRUE"),
            ("PYFLY:EVENTSOURCING:STORE:PROVIDER", "EFCORE"),
            ("PYFLY:EVENTSOURCING:STORE:URL", "postgresql://app:pw@env-pg/orders"),
            ("PYFLY:EVENTSOURCING:SNAPSHOT:PROVIDER", "SQLALCHEMY"),
            ("PYFLY:EVENTSOURCING:SNAPSHOT:INTERVAL", "7"),
            ("PYFLY:DATA:RELATIONAL:URL", "sqlite:///env.db")));

        var settings = provider.GetRequiredService<EventSourcingSettings>();
        Assert.Equal("env-pg", PostgreSqlHost(settings.Store.Connection));
        Assert.Equal("env.db", DataSource(settings.Snapshot.Connection));
        Assert.Equal(7, settings.Repository.SnapshotInterval);
    }

    [Fact]
    public void Double_underscore_environment_variables_configure_the_module()
    {
        var prefix = $"ORDERSES_TEST_{Guid.NewGuid():N}_";
        string[] names = [prefix + "PYFLY__EVENTSOURCING__ENABLED", prefix + "PYFLY__EVENTSOURCING__STORE__PROVIDER", prefix + "PYFLY__DATA__RELATIONAL__URL"];
        try
        {
            Environment.SetEnvironmentVariable(names[0], "true");
            Environment.SetEnvironmentVariable(names[1], "sqlalchemy");
            Environment.SetEnvironmentVariable(names[2], "sqlite:///from-env.db");

            var provider = Provider(new ConfigurationBuilder().AddEnvironmentVariables(prefix).Build());

            Assert.IsType<EfCoreEventStore>(provider.GetRequiredService<IEventStore>());
            Assert.Equal("from-env.db", DataSource(provider.GetRequiredService<EventStoreDatabase>().Connection));
        }
        finally
        {
            foreach (var name in names) Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void Event_types_of_the_given_assemblies_are_registered()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddEventSourcing(ConfigurationOf((Enabled, "true")), typeof(Counter).Assembly);
        using var provider = services.BuildServiceProvider();
        var registry = provider.GetRequiredService<EventTypeRegistry>();

        Assert.True(registry.TryResolve(nameof(ThingsCounted), out var type));
        Assert.Equal(typeof(ThingsCounted), type);
        Assert.True(registry.TryResolve(nameof(WithOptionalMembers), out var unrelated)); // of no aggregate: registered for its assembly
        Assert.Equal(typeof(WithOptionalMembers), unrelated);
    }

    [Fact]
    public void Event_types_of_an_aggregate_added_by_hand_are_registered()
    {
        var registry = Provider((Enabled, "true")).GetRequiredService<EventTypeRegistry>();

        Assert.True(registry.TryResolve("thing_renamed_v2", out var type));
        Assert.Equal(typeof(ThingRenamed), type);
    }

    [Fact]
    public void Upcaster_chain_runs_registered_upcasters_in_registration_order()
    {
        var provider = Provider(ConfigurationOf((Enabled, "true")), before: services =>
        {
            services.AddSingleton<IEventUpcaster>(new RenameUpcaster("V1", "V2"));
            services.AddSingleton<IEventUpcaster>(new RenameUpcaster("V2", "V3"));
        });

        var upcasted = provider.GetRequiredService<UpcasterChain>().Apply(new StoredEventEnvelope
        {
            EventId = "e-1",
            AggregateId = "a-1",
            AggregateType = "Thing",
            Sequence = 1,
            EventType = "V1",
            Payload = "{}",
            Metadata = EventMetadata.Empty,
            OccurredAt = DateTimeOffset.UnixEpoch,
        });

        Assert.Equal("V3", upcasted.EventType);
    }

    [Fact]
    public void Registered_TimeProvider_is_kept()
    {
        var clock = new FixedTimeProvider();

        var provider = Provider(ConfigurationOf((Enabled, "true")), before: services => services.AddSingleton<TimeProvider>(clock));

        Assert.Same(clock, provider.GetRequiredService<TimeProvider>());
    }

    [Fact]
    public async Task Start_up_logs_the_providers_with_the_password_masked()
    {
        var logs = new CapturedLogs();
        var provider = Provider(ConfigurationOf((Enabled, "true"), (StoreProviderKey, "efcore"),
            (StoreUrlKey, "postgresql://app:hunter2@log-pg/orders?sslmode=require&sslpassword=hunter3")), logs);

        foreach (var service in provider.GetServices<IHostedService>()) await service.StartAsync(CancellationToken.None);

        Assert.Contains("EfCore (PostgreSql: Host=log-pg", logs.All);
        Assert.Contains("Memory", logs.All);
        Assert.Contains("100", logs.All);
        Assert.DoesNotContain("hunter2", logs.All);
        Assert.DoesNotContain("hunter3", logs.All);
    }

    [Fact]
    public void Failed_start_up_logs_nothing_that_holds_the_password()
    {
        var logs = new CapturedLogs();
        var provider = Provider(ConfigurationOf((Enabled, "true"), (StoreProviderKey, "efcore"), (StoreUrlKey, "postgresql://app:hunter2@pg:x/orders")), logs);

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.DoesNotContain("hunter2", error.Message);
        Assert.DoesNotContain("hunter2", logs.All);
    }

    private sealed class RenameUpcaster(string from, string to) : IEventUpcaster
    {
        public bool CanUpcast(StoredEventEnvelope envelope) => envelope.EventType == from;

        public StoredEventEnvelope Upcast(StoredEventEnvelope envelope) => envelope with { EventType = to };
    }

    private sealed class FixedTimeProvider : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch;
    }
}
