using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Projections;
using OrdersEs.Infrastructure.Tests.Configuration;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Projections;

/// <summary>
/// A projection that cannot apply an event keeps the order and says so; an operator parks that one event and the
/// projection moves on; parked events live in the database, so every replica's runner passes over them.
/// </summary>
public abstract class PoisonEventContract : OwnsResources
{
    protected abstract Task<ProjectionFixture> CreateFixtureAsync();

    /// <summary>Whether rows can be written behind the store's back (relational stores).</summary>
    protected virtual bool HasTable => true;

    /// <summary>Whether the database refuses NUL characters in text (PostgreSQL).</summary>
    protected virtual bool RefusesNul => false;

    private async Task<ProjectionFixture> FixtureAsync() => Own(await CreateFixtureAsync());

    private static FunctionProjection Failing(ProjectionFixture fixture, string name, string poisonAggregate, ConcurrentQueue<string> applied) =>
        new(name, (envelope, _) =>
        {
            if (envelope.AggregateId == poisonAggregate) throw new InvalidOperationException("cannot apply " + poisonAggregate);
            applied.Enqueue(envelope.AggregateId);
            return Task.CompletedTask;
        }, new ProjectionCheckpointStoreOf(fixture));

    private static async Task<ProjectionFailure> FailureAsync(ProjectionFixture fixture, string name, int attempts = 2)
    {
        ProjectionFailure? failure = null;
        var seen = await fixture.Monitor.WaitUntilAsync(
            _ => Task.FromResult((failure = fixture.Monitor.Find(name)?.Failure) is { Attempts: var a } && a >= attempts),
            TimeSpan.FromSeconds(20), CancellationToken.None);
        Assert.True(seen, $"projection {name} reported no failure with {attempts} attempts");
        return failure!;
    }

    private static async Task<StoredEventEnvelope> EventOfAsync(ProjectionFixture fixture, string aggregateId) =>
        (await fixture.Store.LoadAsync(aggregateId)).Single();

    [Fact]
    public async Task A_failing_event_holds_the_projection_and_is_reported_with_id_position_type_error_attempts_and_since()
    {
        var fixture = await FixtureAsync();
        await fixture.TallyAsync("before");
        await fixture.TallyAsync("poison");
        await fixture.TallyAsync("after");
        var applied = new ConcurrentQueue<string>();
        var projection = Failing(fixture, "held", "poison", applied);
        var startedAt = DateTimeOffset.UtcNow;

        await fixture.StartAsync(projection);
        var failure = await FailureAsync(fixture, "held", attempts: 3);

        var poison = await EventOfAsync(fixture, "poison");
        Assert.Equal(poison.EventId, failure.EventId);
        Assert.Equal(poison.GlobalPosition, failure.Checkpoint!.Value.Position);
        Assert.Equal(nameof(ThingsCounted), failure.EventType);
        Assert.Equal("poison", failure.AggregateId);
        Assert.Contains("cannot apply poison", failure.Error);
        Assert.True(failure.FailingSince >= startedAt.AddSeconds(-1) && failure.FailingSince <= failure.LastAttemptAt);
        Assert.Equal(["before"], applied);
        Assert.Equal((await EventOfAsync(fixture, "before")).GlobalPosition, (await projection.LoadCheckpointAsync(CancellationToken.None)).Position);
    }

    [Fact]
    public async Task Parking_the_failing_event_moves_the_projection_on_and_keeps_when_and_why()
    {
        var fixture = await FixtureAsync();
        await fixture.TallyAsync("poison");
        await fixture.TallyAsync("after");
        var applied = new ConcurrentQueue<string>();
        var projection = Failing(fixture, "parked", "poison", applied);
        var runner = await fixture.StartAsync(projection);
        var failure = await FailureAsync(fixture, "parked");

        var outcome = await runner.SkipAsync(failure.EventId!, "row written by the legacy importer", CancellationToken.None);
        await fixture.CaughtUpAsync(projection);

        Assert.Equal(SkipResult.Skipped, outcome.Result);
        Assert.Equal(["after"], applied);
        Assert.Null(fixture.Monitor.Find("parked")!.Failure);
        var skipped = Assert.Single(await fixture.Skips.ListAsync("parked", 10, CancellationToken.None));
        Assert.Equal((failure.EventId, nameof(ThingsCounted), "poison", "row written by the legacy importer"),
            (skipped.EventId, skipped.EventType, skipped.AggregateId, skipped.Reason));
        Assert.Equal(failure.Checkpoint, skipped.Checkpoint);
        Assert.Contains("cannot apply poison", skipped.Error);
        Assert.True(skipped.SkippedAt >= failure.FailingSince.AddSeconds(-1));
    }

    [Fact]
    public async Task Parking_an_event_the_projection_is_not_held_at_is_refused_and_nothing_is_kept()
    {
        var fixture = await FixtureAsync();
        await fixture.TallyAsync("poison");
        await fixture.TallyAsync("after");
        var projection = Failing(fixture, "refuses", "poison", new ConcurrentQueue<string>());
        var runner = await fixture.StartAsync(projection);
        await FailureAsync(fixture, "refuses");

        var outcome = await runner.SkipAsync((await EventOfAsync(fixture, "after")).EventId, "wrong one", CancellationToken.None);

        Assert.Equal(SkipResult.NotHeld, outcome.Result);
        Assert.Contains((await EventOfAsync(fixture, "poison")).EventId, outcome.Refusal);
        Assert.Empty(await fixture.Skips.ListAsync("refuses", 10, CancellationToken.None));
        Assert.NotNull(fixture.Monitor.Find("refuses")!.Failure);
    }

    [Fact]
    public async Task A_healthy_projection_has_nothing_to_park()
    {
        var fixture = await FixtureAsync();
        await fixture.TallyAsync("fine");
        var projection = Failing(fixture, "healthy", "none", new ConcurrentQueue<string>());
        var runner = await fixture.StartAsync(projection);
        await fixture.CaughtUpAsync(projection);

        var outcome = await runner.SkipAsync((await EventOfAsync(fixture, "fine")).EventId, "just because", CancellationToken.None);

        Assert.Equal(SkipResult.NotHeld, outcome.Result);
        Assert.Empty(await fixture.Skips.ListAsync("healthy", 10, CancellationToken.None));
    }

    [Fact]
    public async Task An_event_parked_through_another_instance_is_passed_over_by_the_runner_of_this_one()
    {
        var fixture = await FixtureAsync();
        await fixture.TallyAsync("poison");
        await fixture.TallyAsync("after");
        var applied = new ConcurrentQueue<string>();
        // Long backoff: the running instance must learn of the park from the table at its next attempt, not from a wake-up.
        var options = ProjectionFixture.FastOptions with { InitialRetryDelay = TimeSpan.FromMilliseconds(500), MaxRetryDelay = TimeSpan.FromMilliseconds(500) };
        var projection = Failing(fixture, "replicated", "poison", applied);
        await fixture.StartAsync(projection, options: options);
        var failure = await FailureAsync(fixture, "replicated");

        // The other instance: its own monitor and runner (not started: it does not hold the lease), the same database.
        var otherMonitor = new ProjectionMonitor(TimeProvider.System);
        using var other = new ProjectionRunner(Failing(fixture, "replicated", "poison", applied), fixture.Store, new EventStoreSignal(),
            fixture.Lease, otherMonitor, options, skips: fixture.Skips);
        var outcome = await other.SkipAsync(failure.EventId!, "parked through the other replica", CancellationToken.None);
        await fixture.CaughtUpAsync(projection);

        Assert.Equal(SkipResult.Skipped, outcome.Result);
        Assert.Equal(["after"], applied);
        Assert.Null(outcome.Skipped!.Error); // that instance never saw the failure
    }

    [Fact]
    public async Task Parking_again_changes_nothing_and_a_rebuild_still_passes_over_the_parked_event()
    {
        var fixture = await FixtureAsync();
        await fixture.TallyAsync("poison");
        await fixture.TallyAsync("after");
        var applied = new ConcurrentQueue<string>();
        var projection = Failing(fixture, "rebuilt", "poison", applied);
        var runner = await fixture.StartAsync(projection);
        var failure = await FailureAsync(fixture, "rebuilt");
        await runner.SkipAsync(failure.EventId!, "first", CancellationToken.None);
        await fixture.CaughtUpAsync(projection);

        var again = await runner.SkipAsync(failure.EventId!, "second", CancellationToken.None);
        await runner.RebuildAsync(CancellationToken.None);
        // Replayed past the parked event (else this times out on it) before anything new is appended.
        await fixture.CaughtUpAsync(projection);
        await fixture.TallyAsync("later");
        await fixture.CaughtUpAsync(projection);

        Assert.Equal(SkipResult.AlreadySkipped, again.Result);
        Assert.Equal("first", again.Skipped!.Reason);
        Assert.Equal(["after", "after", "later"], applied);
        Assert.Null(fixture.Monitor.Find("rebuilt")!.Failure);
    }

    [Fact]
    public async Task A_row_whose_payload_cannot_be_decoded_holds_the_read_model_until_it_is_parked()
    {
        if (!HasTable) Assert.Skip("The in-memory store has no table another writer could put a row in.");
        var fixture = await FixtureAsync();
        await fixture.TallyAsync("before");
        await fixture.InsertForeignRowAsync("evt-foreign-1", "ctr-foreign", nameof(ThingsCounted), "{not json");
        await fixture.TallyAsync("after");
        var projection = fixture.CountersView();
        var runner = await fixture.StartAsync(projection);

        var failure = await FailureAsync(fixture, projection.Name);
        Assert.Equal(("evt-foreign-1", nameof(ThingsCounted), "ctr-foreign"), (failure.EventId, failure.EventType, failure.AggregateId));
        // The decoding error that names the member, not the JSON reader's error inside it.
        Assert.StartsWith(nameof(EventDecodingException), failure.Error);
        Assert.Contains("'(the payload)' is not JSON", failure.Error);
        Assert.False((await fixture.ViewsAsync()).ContainsKey("after"));

        await runner.SkipAsync("evt-foreign-1", "undecodable row from another writer", CancellationToken.None);
        await fixture.CaughtUpAsync(projection);
        var views = await fixture.ViewsAsync();
        Assert.Equal(["after", "before"], views.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_events_before_a_row_that_cannot_be_read_are_applied_after_one_failed_read_not_one_failure_each()
    {
        if (!HasTable) Assert.Skip("The in-memory store has no table another writer could put a row in.");
        var fixture = await FixtureAsync();
        for (var i = 0; i < 20; i++) await fixture.TallyAsync($"before-{i:00}");
        // An envelope row whose sequence disagrees with its column: the store refuses to read it, so every read of a batch
        // that reaches it fails (not the apply of one event).
        await fixture.InsertForeignRowAsync("evt-foreign-2", "ctr-foreign", nameof(ThingsCounted), $$"""
            {"event_id":"evt-foreign-2","aggregate_id":"ctr-foreign","aggregate_type":"Counter","sequence":99,"event_type":"{{nameof(ThingsCounted)}}",
             "version":1,"tenant_id":null,"payload":{},"metadata":{},"occurred_at":"2026-12-07T10:00:00+00:00"}
            """);
        await fixture.TallyAsync("after");
        var projection = fixture.CountersView();
        var logs = new CapturedLogs();
        using var loggers = LoggerFactory.Create(logging => logging.AddProvider(logs));
        using var runner = new ProjectionRunner(projection, fixture.Store, fixture.Signal, fixture.Lease, fixture.Monitor,
            ProjectionFixture.FastOptions, logger: loggers.CreateLogger<ProjectionRunner>(), skips: fixture.Skips);
        await runner.StartAsync(CancellationToken.None);

        var failure = await FailureAsync(fixture, projection.Name, attempts: 3);

        // Named by its columns, though it cannot be read.
        Assert.Equal(("evt-foreign-2", nameof(ThingsCounted), "ctr-foreign"), (failure.EventId, failure.EventType, failure.AggregateId));
        Assert.Contains("envelope.sequence", failure.Error);
        Assert.Equal(20, (await fixture.ViewsAsync()).Count);
        // The first read fails and the runner recovers once, going one event at a time up to the row; it must not fail
        // and recover again on every event before it (a wait of the retry delay each).
        var recoveries = logs.Messages.Count(m => m.Contains("recovered", StringComparison.Ordinal));
        Assert.True(recoveries <= 1, $"{recoveries} recoveries on the way to the row:\n{logs.All}");

        // And it can be parked like any event: the projection passes over it.
        var outcome = await runner.SkipAsync("evt-foreign-2", "envelope written by hand", CancellationToken.None);
        Assert.Equal(SkipResult.Skipped, outcome.Result);
        await fixture.CaughtUpAsync(projection);
        Assert.True((await fixture.ViewsAsync()).ContainsKey("after"));
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_value_the_database_refuses_at_the_batch_commit_is_traced_to_its_event_and_can_be_parked()
    {
        if (!RefusesNul) Assert.Skip("Only PostgreSQL refuses NUL in a text column.");
        var fixture = await FixtureAsync();
        var template = (await fixture.Store.LoadAsync((await fixture.TallyAsync("template")).Id)).Single();
        // A text value with NUL (here who counted), accepted into the store, refused by the read model's table (22021) at the commit.
        var payload = template.Payload.Replace("\"by-template\"", "\"A\\u0000B\"", StringComparison.Ordinal);
        Assert.Contains("\\u0000", payload);
        for (var i = 0; i < 5; i++) await fixture.TallyAsync($"before-{i}");
        await fixture.InsertForeignRowAsync("evt-nul", "ctr-nul", nameof(ThingsCounted), payload);
        await fixture.TallyAsync("after");
        var projection = fixture.CountersView();
        var runner = await fixture.StartAsync(projection);

        var failure = await FailureAsync(fixture, projection.Name);
        Assert.Equal("evt-nul", failure.EventId);
        Assert.Contains("22021", failure.Error);
        Assert.Equal(6, (await fixture.ViewsAsync()).Count); // everything before it applied, nothing after

        await runner.SkipAsync("evt-nul", "NUL in counted_by", CancellationToken.None);
        await fixture.CaughtUpAsync(projection);
        Assert.True((await fixture.ViewsAsync()).ContainsKey("after"));
    }

    /// <summary>The fixture's durable checkpoints, so a second instance reads where the first one stands.</summary>
    private sealed class ProjectionCheckpointStoreOf(ProjectionFixture fixture) : IProjectionCheckpointStore
    {
        public Task<GlobalCheckpoint> LoadAsync(string projection, CancellationToken cancellationToken) => fixture.Checkpoints.LoadAsync(projection, cancellationToken);

        public Task<bool> TryAdvanceAsync(string projection, GlobalCheckpoint expected, GlobalCheckpoint next, CancellationToken cancellationToken) =>
            fixture.Checkpoints.TryAdvanceAsync(projection, expected, next, cancellationToken);

        public Task ResetAsync(string projection, CancellationToken cancellationToken) => fixture.Checkpoints.ResetAsync(projection, cancellationToken);
    }
}

public sealed class MemoryPoisonEventTests : PoisonEventContract
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.MemoryAsync();

    protected override bool HasTable => false;
}

public sealed class SqlitePoisonEventTests : PoisonEventContract
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.SqliteAsync();
}

public sealed class PostgresPoisonEventTests : PoisonEventContract
{
    protected override Task<ProjectionFixture> CreateFixtureAsync() => ProjectionFixture.PostgresAsync();

    protected override bool RefusesNul => true;
}
