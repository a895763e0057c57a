using OrdersEs.Infrastructure.Snapshots;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Snapshots;

/// <summary>The behaviour every snapshot store provider must have (SEMANTICS 4).</summary>
public abstract class SnapshotStoreContract : OwnsResources
{
    protected abstract Task<ISnapshotStore> CreateStoreAsync();

    private static string NewId() => "snap-" + Guid.NewGuid().ToString("N")[..12];

    private static Snapshot At(string id, int sequence, int schemaVersion = 1) =>
        new(id, "Counter", sequence, $$"""{"total":{{sequence}}}""", new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), schemaVersion);

    [Fact]
    public async Task Load_of_unknown_aggregate_is_null()
    {
        var store = await CreateStoreAsync();
        Assert.Null(await store.LoadAsync(NewId()));
    }

    [Fact]
    public async Task Saved_snapshot_loads_with_every_field()
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        var snapshot = At(id, 100, schemaVersion: 3);
        await store.SaveAsync(snapshot);
        Assert.Equal(snapshot, await store.LoadAsync(id));
    }

    [Fact]
    public async Task Newer_snapshot_replaces_older_one()
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        await store.SaveAsync(At(id, 100));
        await store.SaveAsync(At(id, 200));
        Assert.Equal(200, (await store.LoadAsync(id))!.Sequence);
    }

    [Fact]
    public async Task Older_or_equal_snapshot_never_replaces_newer_one()
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        await store.SaveAsync(At(id, 200));
        await store.SaveAsync(At(id, 100));
        await store.SaveAsync(At(id, 200) with { Payload = """{"total":-1}""" });
        var loaded = await store.LoadAsync(id);
        Assert.Equal(200, loaded!.Sequence);
        Assert.Equal("""{"total":200}""", loaded.Payload);
    }

    [Fact]
    public async Task Concurrent_saves_keep_the_newest_snapshot()
    {
        var store = await CreateStoreAsync();
        var id = NewId();
        var sequences = Enumerable.Range(1, 40).Select(i => i * 10).OrderBy(_ => Random.Shared.Next()).ToArray();
        await Task.WhenAll(sequences.Select(s => Task.Run(() => store.SaveAsync(At(id, s)))));
        Assert.Equal(400, (await store.LoadAsync(id))!.Sequence);
    }
}
