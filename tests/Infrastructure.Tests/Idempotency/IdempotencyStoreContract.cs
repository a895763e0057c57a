using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.EventStore.EfCore;
using OrdersEs.Infrastructure.Idempotency;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Idempotency;

/// <summary>
/// An idempotency key's answer commits with the request's events or not at all, on each database provider
/// (subclasses below): whatever moment a request dies at, a retry never appends a second time.
/// </summary>
public abstract class IdempotencyStoreContract : OwnsResources
{
    private static readonly IdempotencyOptions Options = new() { WaitForFirst = TimeSpan.FromMilliseconds(50) };
    private static readonly IdempotentResponse Answer = new(201, "{\"id\":\"stream-1\",\"version\":1}", "/things/stream-1", "\"1\"");

    private readonly ManualTime _time = new();

    protected abstract Task<TestDatabase> CreateDatabaseAsync();

    private async Task<(IdempotencyStore Keys, EfCoreEventStore Events)> CreateAsync()
    {
        var database = Own(await CreateDatabaseAsync());
        return (new IdempotencyStore(database.Database, _time, Options), new EfCoreEventStore(database.Database, TestKernel.Envelopes(_time)));
    }

    private static async Task<string> ClaimAsync(IdempotencyStore keys, string key = "key-1", string hash = "hash-1")
    {
        var claim = await keys.ClaimAsync("tenant", key, hash, CancellationToken.None);
        return Assert.IsType<IdempotencyClaim.Acquired>(claim).Token;
    }

    private static Task<IReadOnlyList<StoredEventEnvelope>> AppendAsync(IEventStore events, string stream, int expectedVersion, IAppendParticipant participant) =>
        events.AppendAsync(stream, "Thing", [new ThingHappened("placed", 1)], expectedVersion, new EventContext("tenant") { Participant = participant });

    [Fact]
    public async Task The_answer_commits_with_the_append_so_a_request_dying_right_after_it_is_replayed_not_run_again()
    {
        var (keys, events) = await CreateAsync();
        var token = await ClaimAsync(keys);
        var completion = keys.Completion("tenant", "key-1", token, Answer);

        await AppendAsync(events, "stream-1", 0, completion);
        // The request dies here, before answering; its claim would count as abandoned 30 s later.
        Assert.True(completion.Written);
        _time.Advance(TimeSpan.FromMinutes(1));

        var retry = await keys.ClaimAsync("tenant", "key-1", "hash-1", CancellationToken.None);
        Assert.Equal(Answer, Assert.IsType<IdempotencyClaim.Completed>(retry).Response);
        Assert.Single(await events.LoadAsync("stream-1"));
    }

    [Fact]
    public async Task An_append_refused_by_its_version_check_leaves_the_key_unanswered()
    {
        var (keys, events) = await CreateAsync();
        await events.AppendAsync("stream-1", "Thing", [new ThingHappened("first", 1)], 0);
        var token = await ClaimAsync(keys);

        await Assert.ThrowsAsync<ConcurrencyException>(() => AppendAsync(events, "stream-1", 0, keys.Completion("tenant", "key-1", token, Answer)));

        Assert.IsType<IdempotencyClaim.StillRunning>(await keys.ClaimAsync("tenant", "key-1", "hash-1", CancellationToken.None));
        await keys.ReleaseAsync("tenant", "key-1", token, CancellationToken.None);
        await ClaimAsync(keys);
        Assert.Single(await events.LoadAsync("stream-1"));
    }

    [Fact]
    public async Task A_request_whose_claim_was_taken_over_as_abandoned_appends_nothing()
    {
        var (keys, events) = await CreateAsync();
        var slow = await ClaimAsync(keys);
        _time.Advance(TimeSpan.FromMinutes(1));
        var retry = await ClaimAsync(keys); // the first request looks dead: its retry takes the key over

        await Assert.ThrowsAsync<IdempotencyClaimLostException>(() => AppendAsync(events, "stream-slow", 0, keys.Completion("tenant", "key-1", slow, Answer)));
        Assert.Empty(await events.LoadAsync("stream-slow"));

        await AppendAsync(events, "stream-1", 0, keys.Completion("tenant", "key-1", retry, Answer));
        var replay = await keys.ClaimAsync("tenant", "key-1", "hash-1", CancellationToken.None);
        Assert.Equal(Answer, Assert.IsType<IdempotencyClaim.Completed>(replay).Response);
    }

    [Fact]
    public async Task Releasing_a_claim_taken_over_leaves_the_new_owner_its_key()
    {
        var (keys, _) = await CreateAsync();
        var slow = await ClaimAsync(keys);
        _time.Advance(TimeSpan.FromMinutes(1));
        await ClaimAsync(keys);

        await keys.ReleaseAsync("tenant", "key-1", slow, CancellationToken.None);

        Assert.IsType<IdempotencyClaim.StillRunning>(await keys.ClaimAsync("tenant", "key-1", "hash-1", CancellationToken.None));
    }

    [Fact]
    public async Task The_answer_outside_an_append_is_stored_once_for_the_claim_holder()
    {
        var (keys, _) = await CreateAsync();
        var token = await ClaimAsync(keys);
        var completion = keys.Completion("tenant", "key-1", token, Answer);

        await keys.CompleteAsync(completion, CancellationToken.None);

        Assert.IsType<IdempotencyClaim.Completed>(await keys.ClaimAsync("tenant", "key-1", "hash-1", CancellationToken.None));
        Assert.IsType<IdempotencyClaim.BodyMismatch>(await keys.ClaimAsync("tenant", "key-1", "hash-2", CancellationToken.None));
        await Assert.ThrowsAsync<IdempotencyClaimLostException>(() => keys.CompleteAsync(completion, CancellationToken.None));
    }

    /// <summary>The real clock, which the test can also move forward by hand.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private TimeSpan _offset;

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + _offset;

        public void Advance(TimeSpan by) => _offset += by;
    }
}

public sealed class SqliteIdempotencyStoreTests : IdempotencyStoreContract
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => Task.FromResult(TestDatabases.CreateSqlite());
}

public sealed class PostgresIdempotencyStoreTests : IdempotencyStoreContract
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => TestDatabases.CreatePostgresAsync();
}
