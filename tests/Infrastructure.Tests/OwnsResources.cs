namespace OrdersEs.Infrastructure.Tests;

/// <summary>A test class that disposes what its tests created (xunit disposes the instance after each test).</summary>
public abstract class OwnsResources : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    protected T Own<T>(T resource) where T : IAsyncDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
