using DotNet.Testcontainers.Containers;
using Xunit;

namespace OrdersEs.TestSupport;

/// <summary>
/// A server the tests need, found the same way in every test project: the address in <see cref="Variable"/> when it
/// is set; else a throwaway Testcontainers container when a Docker engine answers (its image pulled on first use,
/// the container removed when the test process exits); else none, and every test that needs it skips with the reason.
/// </summary>
public sealed class TestServer
{
    /// <summary>Long enough to pull an image on a slow line; a Docker engine that does not answer fails at once.</summary>
    private static readonly TimeSpan ContainerStartTimeout = TimeSpan.FromMinutes(5);

    private readonly Func<CancellationToken, Task<(string Address, IAsyncDisposable Container)>> _startContainer;
    private readonly Lazy<Task<Found>> _found;

    /// <param name="name">What the server is, for skip reasons.</param>
    /// <param name="variable">The environment variable that names a running server.</param>
    /// <param name="startContainer">Starts the container and answers its address as <paramref name="variable"/> would hold it, and the container (disposed when the process exits).</param>
    public TestServer(string name, string variable, Func<CancellationToken, Task<(string Address, IAsyncDisposable Container)>> startContainer)
    {
        Name = name;
        Variable = variable;
        _startContainer = startContainer;
        _found = new Lazy<Task<Found>>(FindOnceAsync);
    }

    public string Name { get; }

    public string Variable { get; }

    /// <summary>The server's address, or null and why there is none. Looked for once per test process.</summary>
    public async Task<(string? Address, string? Reason)> FindAsync()
    {
        var found = await _found.Value;
        return (found.Address, found.Reason);
    }

    /// <summary>The server's address; skips the calling test with the reason when there is none.</summary>
    public async Task<string> AddressOrSkipAsync()
    {
        var found = await _found.Value;
        if (found.Address is null) Assert.Skip(found.Reason!);
        return found.Address;
    }

    /// <summary>The container serving the tests, or null when the server came from <see cref="Variable"/> (or there is none).</summary>
    public async Task<IContainer?> ContainerAsync() => (await _found.Value).Container as IContainer;

    private async Task<Found> FindOnceAsync()
    {
        var configured = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(configured)) return new Found(configured, null, null);
        try
        {
            using var timeout = new CancellationTokenSource(ContainerStartTimeout);
            var (address, container) = await _startContainer(timeout.Token);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => container.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return new Found(address, container, null);
        }
        catch (Exception e)
        {
            var why = e.Message.Split('\n', 2)[0].Trim();
            return new Found(null, null,
                $"{Name} not available: {Variable} is unset and Testcontainers found no Docker engine to start one in " +
                $"({e.GetType().Name}: {why}). Set {Variable} to a running server, or start Docker.");
        }
    }

    private sealed record Found(string? Address, IAsyncDisposable? Container, string? Reason);
}
