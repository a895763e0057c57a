using OrdersEs.TestSupport;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Shared;

/// <summary>
/// How every test project finds a server: the environment variable first, Testcontainers second, else no address and
/// the reason (with which <see cref="TestServer.AddressOrSkipAsync"/> skips the test).
/// </summary>
public sealed class TestServerTests
{
    [Fact]
    public async Task The_environment_variable_wins_and_no_container_is_started()
    {
        var variable = UniqueVariable();
        Environment.SetEnvironmentVariable(variable, "Host=db.example;Username=u");
        try
        {
            var starts = 0;
            var server = new TestServer("Thing", variable, _ => { starts++; throw new InvalidOperationException("must not start"); });

            Assert.Equal("Host=db.example;Username=u", await server.AddressOrSkipAsync());
            Assert.Equal(("Host=db.example;Username=u", (string?)null), await server.FindAsync());
            Assert.Null(await server.ContainerAsync());
            Assert.Equal(0, starts);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task Without_the_variable_and_without_Docker_there_is_no_address_and_the_reason_names_both()
    {
        var variable = UniqueVariable();
        var starts = 0;
        var server = new TestServer("Thing", variable, _ =>
        {
            starts++;
            throw new InvalidOperationException("Docker is either not running or misconfigured.\nsecond line");
        });

        var (address, reason) = await server.FindAsync();

        Assert.Null(address);
        Assert.StartsWith("Thing not available: ", reason, StringComparison.Ordinal);
        Assert.Contains(variable + " is unset", reason, StringComparison.Ordinal);
        Assert.Contains("Testcontainers", reason, StringComparison.Ordinal);
        Assert.Contains("Docker is either not running or misconfigured.", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("second line", reason, StringComparison.Ordinal);
        await server.FindAsync();
        Assert.Equal(1, starts); // looked for once per test process
    }

    [Fact]
    public async Task Without_the_variable_the_container_is_started_once_and_its_address_served()
    {
        var variable = UniqueVariable();
        var starts = 0;
        var server = new TestServer("Thing", variable, _ =>
        {
            starts++;
            return Task.FromResult(("amqp://container:5672/", (IAsyncDisposable)new NotAContainer()));
        });

        Assert.Equal("amqp://container:5672/", await server.AddressOrSkipAsync());
        Assert.Equal("amqp://container:5672/", await server.AddressOrSkipAsync());
        Assert.Equal(1, starts);
        Assert.Null(await server.ContainerAsync()); // nothing to exec in: not a Testcontainers container
    }

    private sealed class NotAContainer : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private static string UniqueVariable() => "ORDERSES_TEST_SERVER_" + Guid.NewGuid().ToString("N").ToUpperInvariant();
}
