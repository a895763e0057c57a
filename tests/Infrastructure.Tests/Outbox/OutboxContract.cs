using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Messaging;
using OrdersEs.Infrastructure.Outbox;
using Xunit;
using static OrdersEs.Infrastructure.Tests.Outbox.OutboxTestKit;

namespace OrdersEs.Infrastructure.Tests.Outbox;

/// <summary>
/// The outbox behaviour every store provider must have (SEMANTICS 7). Each provider derives one class and supplies
/// a fresh event store with its outbox; a provider whose server is missing skips from <see cref="CreateAsync"/>.
/// </summary>
public abstract class OutboxContract : OwnsResources
{
    /// <summary>A fresh store and its outbox; <c>AnotherInstance</c> opens the same outbox as a second service instance would.</summary>
    protected sealed record Setup(IEventStore Events, IOutboxStore Outbox, IOutboxMonitor Monitor, EventStoreSignal Signal, Func<IOutboxStore> AnotherInstance);

    /// <param name="time">The stores' clock (claims, leases, retries); the system clock when null.</param>
    protected abstract Task<Setup> CreateAsync(TimeProvider? time = null);

    protected static string NewId(string prefix = "agg") => prefix + "-" + Guid.NewGuid().ToString("N")[..12];

    protected async Task<RunningDispatcher> StartAsync(Setup setup, IEventPublisher bus, OutboxOptions? options = null, IOutboxStore? store = null) =>
        Own(await RunningDispatcher.StartAsync(store ?? setup.Outbox, bus, setup.Signal, options ?? FastOptions()));

    [Fact]
    public async Task Append_writes_one_outbox_message_per_event_in_sequence_order()
    {
        var setup = await CreateAsync();
        var id = NewId();
        var stored = await setup.Events.AppendAsync(id, "Counter", Things(3), 0);

        Assert.Equal(new OutboxCounts(3, 0, 0), await setup.Monitor.GetCountsAsync());
        var claimed = await setup.Outbox.ClaimAsync("test", 10, TimeSpan.FromMinutes(1), CancellationToken.None);
        Assert.Equal(stored.Select(e => e.EventId), claimed.Select(m => m.EventId));
        Assert.Equal([1, 2, 3], claimed.Select(m => m.Envelope!.Sequence));
        Assert.All(claimed, m => Assert.Equal(id, m.Envelope!.AggregateId));
        Assert.Equal(stored.Select(e => e.Payload), claimed.Select(m => m.Envelope!.Payload));
        Assert.Equal(new OutboxCounts(0, 3, 0), await setup.Monitor.GetCountsAsync());
    }

    [Fact]
    public async Task Conflicting_append_writes_no_outbox_message()
    {
        var setup = await CreateAsync();
        var id = NewId();
        await setup.Events.AppendAsync(id, "Counter", Things(2), 0);
        await Assert.ThrowsAsync<ConcurrencyException>(() => setup.Events.AppendAsync(id, "Counter", Things(3), 1));

        Assert.Equal(new OutboxCounts(2, 0, 0), await setup.Monitor.GetCountsAsync());
    }

    [Fact]
    public async Task Dispatcher_delivers_every_event_once_in_aggregate_order()
    {
        var setup = await CreateAsync();
        var bus = new RecordingPublisher(latency: TimeSpan.FromMilliseconds(2));
        await StartAsync(setup, bus);
        var ids = Enumerable.Range(0, 5).Select(_ => NewId()).ToArray();
        foreach (var id in ids)
        {
            await setup.Events.AppendAsync(id, "Counter", Things(3), 0);
            await setup.Events.AppendAsync(id, "Counter", Things(2), 3);
        }

        await AllDeliveredOnceInOrderAsync(setup, bus, ids, eventsEach: 5);
    }

    [Fact]
    public async Task Failing_message_is_retried_with_growing_delays_and_its_aggregate_waits_for_it()
    {
        var setup = await CreateAsync();
        var id = NewId();
        var stored = await setup.Events.AppendAsync(id, "Counter", Things(2), 0);
        var first = stored[0].EventId;
        var bus = new RecordingPublisher((message, attempt) => message.MessageId == first && attempt <= 3);
        var options = FastOptions();
        options.InitialRetryDelay = TimeSpan.FromMilliseconds(100);
        options.MaxRetryDelay = TimeSpan.FromSeconds(1);
        var store = new RecordsRetries(setup.Outbox);
        await StartAsync(setup, bus, options, store);

        await EventuallyAsync(() => bus.Delivered.Count == 2, "both events delivered");
        Assert.Equal([1, 2], bus.Delivered.Select(d => d.Sequence));
        var tries = bus.Attempts.Where(a => a.EventId == first).Select(a => a.At).ToArray();
        Assert.Equal(4, tries.Length);
        // Equal jitter: retry n is scheduled between half and all of 100 ms * 2^(n-1) ahead, so 50-100, 100-200, 200-400 ms
        // (less the moment between the dispatcher reading its clock and the store being called): they grow.
        var scheduled = store.Delays;
        Assert.Equal(3, scheduled.Count);
        for (var n = 0; n < scheduled.Count; n++)
        {
            var (least, most) = (50 * Math.Pow(2, n), 100 * Math.Pow(2, n));
            Assert.InRange(scheduled[n].TotalMilliseconds, least - 20, most);
        }
        // No retry came before its time (later, on a busy machine, is allowed).
        var gaps = tries.Zip(tries.Skip(1), (a, b) => b - a).ToArray();
        for (var n = 0; n < gaps.Length; n++)
            Assert.True(gaps[n] >= TimeSpan.FromMilliseconds(50 * Math.Pow(2, n) - 2), $"gap {n + 1} was {gaps[n].TotalMilliseconds} ms");
        await EventuallyAsync(async () => await setup.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 0), "an empty outbox");
    }

    [Fact]
    public async Task Poison_message_is_dead_lettered_and_parks_its_aggregate_while_other_aggregates_keep_flowing_and_a_retry_delivers_it_then_the_parked_ones_in_order()
    {
        var setup = await CreateAsync();
        var poisoned = NewId("poison");
        var healthy = NewId("healthy");
        var poison = (await setup.Events.AppendAsync(poisoned, "Counter", Things(1), 0))[0];
        var cured = false;
        var bus = new RecordingPublisher((message, _) => message.MessageId == poison.EventId && !Volatile.Read(ref cured));
        await StartAsync(setup, bus, FastOptions(maxAttempts: 3));
        await setup.Events.AppendAsync(healthy, "Counter", Things(3), 0);
        await setup.Events.AppendAsync(poisoned, "Counter", Things(1), 1);

        await EventuallyAsync(async () => (await setup.Monitor.GetCountsAsync()).DeadLettered == 1, "a dead letter");
        // The poisoned aggregate keeps changing while its first message is dead.
        await setup.Events.AppendAsync(poisoned, "Counter", Things(2), 2);
        await setup.Events.AppendAsync(healthy, "Counter", Things(1), 3);
        await EventuallyAsync(() => bus.Delivered.Count == 4, "the healthy aggregate's messages delivered");
        Assert.Equal(3, bus.Attempts.Count(a => a.EventId == poison.EventId));
        Assert.Equal([1, 2, 3, 4], bus.Delivered.Where(d => d.AggregateId == healthy).Select(d => d.Sequence));
        await EventuallyAsync(async () => await setup.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 1, 3), "three messages parked behind the dead letter");
        // Parked means never tried: nothing of the poisoned aggregate went out after its dead letter, in any order.
        await Task.Delay(200);
        Assert.DoesNotContain(bus.Attempts, a => a.AggregateId == poisoned && a.Sequence > 1);

        var letter = Assert.Single(await setup.Monitor.GetDeadLettersAsync());
        Assert.Equal((poison.EventId, poisoned, 1, poison.EventType, 3, 3L),
            (letter.EventId, letter.AggregateId, letter.Sequence, letter.EventType, letter.Attempts, letter.Parked));
        Assert.Contains("refused", letter.LastError);

        Assert.Equal(DeadLetterResult.NotFound, (await setup.Monitor.RetryDeadLetterAsync(letter.Id + 1000)).Result);
        Volatile.Write(ref cured, true);
        Assert.Equal(DeadLetterResult.Done, (await setup.Monitor.RetryDeadLetterAsync(letter.Id)).Result);
        Assert.Equal(DeadLetterResult.NotFound, (await setup.Monitor.RetryDeadLetterAsync(letter.Id)).Result);
        setup.Signal.Notify();
        await EventuallyAsync(() => bus.Delivered.Count(d => d.AggregateId == poisoned) == 4, "the retried dead letter and the parked messages delivered");
        Assert.Equal([1, 2, 3, 4], bus.Delivered.Where(d => d.AggregateId == poisoned).Select(d => d.Sequence));
        await EventuallyAsync(async () => await setup.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 0, 0), "an empty outbox");
        Assert.Empty(await setup.Monitor.GetDeadLettersAsync());
    }

    [Fact]
    public async Task Skipping_a_dead_letter_records_it_with_its_reason_and_releases_the_parked_messages()
    {
        var setup = await CreateAsync();
        var poisoned = NewId("poison");
        var poison = (await setup.Events.AppendAsync(poisoned, "Counter", Things(1), 0))[0];
        var bus = new RecordingPublisher((message, _) => message.MessageId == poison.EventId);
        await StartAsync(setup, bus, FastOptions(maxAttempts: 2));
        await EventuallyAsync(async () => (await setup.Monitor.GetCountsAsync()).DeadLettered == 1, "a dead letter");
        await setup.Events.AppendAsync(poisoned, "Counter", Things(2), 1);
        await EventuallyAsync(async () => await setup.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 1, 2), "two parked messages");
        var letter = Assert.Single(await setup.Monitor.GetDeadLettersAsync());

        Assert.Equal(DeadLetterResult.NotFound, (await setup.Monitor.SkipDeadLetterAsync(letter.Id + 1000, "no such")).Result);
        var skipped = await setup.Monitor.SkipDeadLetterAsync(letter.Id, "consumer cannot read v1 payloads");
        setup.Signal.Notify();

        Assert.Equal(DeadLetterResult.Done, skipped.Result);
        Assert.Equal((letter.Id, poison.EventId, poisoned, 1, "consumer cannot read v1 payloads"),
            (skipped.Skipped!.Id, skipped.Skipped.EventId, skipped.Skipped.AggregateId, skipped.Skipped.Sequence, skipped.Skipped.Reason));
        await EventuallyAsync(() => bus.Delivered.Count == 2, "the parked messages delivered");
        Assert.Equal([2, 3], bus.Delivered.Select(d => d.Sequence));
        Assert.DoesNotContain(bus.Delivered, d => d.EventId == poison.EventId);
        await EventuallyAsync(async () => await setup.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 0, 0), "an empty outbox");
        // Skipped stays skipped: listed, and neither a second skip nor a retry changes it.
        Assert.Equal(letter.Id, Assert.Single(await setup.Monitor.GetSkippedAsync()).Id);
        Assert.Equal(DeadLetterResult.AlreadySkipped, (await setup.Monitor.SkipDeadLetterAsync(letter.Id, "again")).Result);
        Assert.Equal(DeadLetterResult.AlreadySkipped, (await setup.Monitor.RetryDeadLetterAsync(letter.Id)).Result);
        Assert.DoesNotContain(bus.Attempts.Skip(2), a => a.EventId == poison.EventId);
    }

    [Fact]
    public async Task Of_concurrent_retries_and_skips_of_one_dead_letter_exactly_one_changes_something()
    {
        var setup = await CreateAsync();
        var poisoned = NewId("poison");
        var poison = (await setup.Events.AppendAsync(poisoned, "Counter", Things(1), 0))[0];
        var claimed = Assert.Single(await setup.Outbox.ClaimAsync("test", 10, TimeSpan.FromMinutes(1), CancellationToken.None));
        await setup.Outbox.DeadLetterAsync("test", claimed.Id, "poison", CancellationToken.None);
        var letter = Assert.Single(await setup.Monitor.GetDeadLettersAsync());
        Assert.Equal(poison.EventId, letter.EventId);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => i % 2 == 0
            ? setup.Monitor.RetryDeadLetterAsync(letter.Id)
            : setup.Monitor.SkipDeadLetterAsync(letter.Id, "race"))));

        Assert.Single(outcomes, o => o.Result == DeadLetterResult.Done);
        Assert.All(outcomes, o => Assert.Contains(o.Result, new[] { DeadLetterResult.Done, DeadLetterResult.NotFound, DeadLetterResult.AlreadySkipped }));
        var counts = await setup.Monitor.GetCountsAsync();
        Assert.Equal(0, counts.DeadLettered);
        // Either back in the outbox once, or recorded as skipped once: never both, never lost.
        Assert.Equal(1, counts.Pending + (await setup.Monitor.GetSkippedAsync()).Count);
    }

    [Fact]
    public async Task Crash_between_publish_and_mark_delivered_redelivers_after_the_claim_lease()
    {
        var setup = await CreateAsync();
        var stored = (await setup.Events.AppendAsync(NewId(), "Counter", Things(3), 0))
            .Concat(await setup.Events.AppendAsync(NewId(), "Counter", Things(2), 0)).ToArray();
        var bus = new RecordingPublisher();
        // Long enough that the claims still hold when the counts below are read on a loaded machine (500 ms did not).
        var lease = TimeSpan.FromSeconds(2);
        var options = FastOptions();
        options.ClaimLease = lease;

        var crashing = await RunningDispatcher.StartAsync(new LosesMarkDelivered(setup.Outbox), bus, setup.Signal, options);
        await EventuallyAsync(() => bus.Delivered.Count == 5, "the first publishes");
        await crashing.DisposeAsync();
        Assert.Equal(new OutboxCounts(0, 5, 0), await setup.Monitor.GetCountsAsync());

        await StartAsync(setup, bus, options, setup.AnotherInstance());
        await EventuallyAsync(() => bus.Delivered.Count == 10, "redelivery after the lease", TimeSpan.FromSeconds(10));
        await EventuallyAsync(async () => await setup.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 0), "an empty outbox");
        Assert.All(stored, e => Assert.Equal(2, bus.Delivered.Count(d => d.EventId == e.EventId)));
    }

    [Fact]
    public async Task Claim_not_renewed_is_taken_over_by_another_instance_after_its_lease()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var setup = await CreateAsync(time);
        await setup.Events.AppendAsync(NewId(), "Counter", Things(2), 0);
        var lease = TimeSpan.FromSeconds(5);
        var dead = await setup.Outbox.ClaimAsync("dead-replica", 10, lease, CancellationToken.None);
        Assert.Equal(2, dead.Count);
        var other = setup.AnotherInstance();

        Assert.Empty(await other.ClaimAsync("live-replica", 10, lease, CancellationToken.None));
        time.Advance(lease - TimeSpan.FromMilliseconds(100));
        Assert.Empty(await other.ClaimAsync("live-replica", 10, lease, CancellationToken.None));
        time.Advance(TimeSpan.FromMilliseconds(200));
        var takenOver = await other.ClaimAsync("live-replica", 10, lease, CancellationToken.None);

        Assert.Equal(dead.Select(m => m.Id), takenOver.Select(m => m.Id));
        // The dead replica's claim is gone: if it came back it could renew nothing.
        Assert.Equal(0, await setup.Outbox.RenewClaimsAsync("dead-replica", dead.Select(m => m.Id).ToArray(), lease, CancellationToken.None));
    }

    [Fact]
    public async Task After_a_takeover_the_old_holder_can_no_longer_settle_what_it_had_claimed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var setup = await CreateAsync(time);
        await setup.Events.AppendAsync(NewId(), "Counter", Things(3), 0);
        var lease = TimeSpan.FromSeconds(5);
        var dead = await setup.Outbox.ClaimAsync("dead-replica", 10, lease, CancellationToken.None);
        time.Advance(lease + TimeSpan.FromSeconds(1));
        var other = setup.AnotherInstance();
        var takenOver = await other.ClaimAsync("live-replica", 10, lease, CancellationToken.None);
        Assert.Equal(dead.Select(m => m.Id), takenOver.Select(m => m.Id));

        // The old holder comes back and settles as if it still held them: nothing changes.
        await setup.Outbox.RetryLaterAsync("dead-replica", dead[0].Id, "late", time.GetUtcNow().AddMinutes(1), CancellationToken.None);
        await setup.Outbox.DeadLetterAsync("dead-replica", dead[1].Id, "late", CancellationToken.None);
        await setup.Outbox.ReleaseAsync("dead-replica", [dead[2].Id], CancellationToken.None);
        Assert.Equal(new OutboxCounts(0, 3, 0), await setup.Monitor.GetCountsAsync());

        await other.MarkDeliveredAsync(takenOver.Select(m => m.Id).ToArray(), CancellationToken.None);
        Assert.Equal(new OutboxCounts(0, 0, 0), await setup.Monitor.GetCountsAsync());
    }

    [Fact]
    public async Task Renewed_claim_is_not_taken_over_until_its_renewed_lease_ends()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var setup = await CreateAsync(time);
        await setup.Events.AppendAsync(NewId(), "Counter", Things(2), 0);
        var lease = TimeSpan.FromSeconds(5);
        var ids = (await setup.Outbox.ClaimAsync("owner", 10, lease, CancellationToken.None)).Select(m => m.Id).ToArray();
        var other = setup.AnotherInstance();

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(2, await setup.Outbox.RenewClaimsAsync("owner", ids, lease, CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(4));
        // 8 s after the claim, past its first lease: still held, renewed at 4 s until 9 s.
        Assert.Empty(await other.ClaimAsync("other", 10, lease, CancellationToken.None));
        Assert.Equal(new OutboxCounts(0, 2, 0), await setup.Monitor.GetCountsAsync());
        // Only the owner renews: another instance's renewal of the same ids changes nothing.
        Assert.Equal(0, await other.RenewClaimsAsync("other", ids, lease, CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(1.1));

        Assert.Equal(ids, (await other.ClaimAsync("other", 10, lease, CancellationToken.None)).Select(m => m.Id));
    }

    [Fact]
    public async Task Dispatcher_keeps_its_claims_while_a_publish_outlasts_the_lease_and_delivers_once()
    {
        var setup = await CreateAsync();
        var stored = await setup.Events.AppendAsync(NewId(), "Counter", Things(2), 0);
        var bus = new GatedPublisher();
        var options = FastOptions();
        // Renewed sixteen times a lease: renewals held up for most of a lease on a loaded machine still hold the claims
        // (with a 2 s lease, a CI run whose template tests loaded both cores once saw the claims lapse).
        options.ClaimLease = TimeSpan.FromSeconds(4);
        options.ClaimRenewInterval = TimeSpan.FromMilliseconds(250);
        await StartAsync(setup, bus, options);
        await bus.FirstPublishStarted;

        // Over two leases long the first publish hangs; the batch stays claimed the whole time.
        var other = setup.AnotherInstance();
        for (var i = 0; i < 17; i++)
        {
            await Task.Delay(500);
            Assert.Empty(await other.ClaimAsync("other", 10, options.ClaimLease, CancellationToken.None));
        }
        bus.Release();

        await EventuallyAsync(async () => await setup.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 0), "an empty outbox");
        Assert.Equal(stored.Select(e => e.EventId), bus.Published);
    }

    [Fact]
    public async Task Two_dispatchers_on_one_outbox_never_deliver_a_message_twice_and_keep_aggregate_order()
    {
        var setup = await CreateAsync();
        var bus = new RecordingPublisher(latency: TimeSpan.FromMilliseconds(3));
        var options = FastOptions();
        options.BatchSize = 7;
        await StartAsync(setup, bus, options);
        await StartAsync(setup, bus, options, setup.AnotherInstance());

        var ids = Enumerable.Range(0, 10).Select(_ => NewId()).ToArray();
        await Task.WhenAll(ids.Select(async id =>
        {
            for (var version = 0; version < 10; version += 2)
                await setup.Events.AppendAsync(id, "Counter", Things(2), version);
        }));

        await EventuallyAsync(() => bus.Delivered.Count >= 100, "100 deliveries", TimeSpan.FromSeconds(30));
        await EventuallyAsync(async () => await setup.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 0), "an empty outbox");
        var delivered = bus.Delivered;
        Assert.Equal(100, delivered.Count);
        Assert.Equal(100, delivered.Select(d => d.EventId).Distinct().Count());
        foreach (var id in ids)
            Assert.Equal(Enumerable.Range(1, 10), delivered.Where(d => d.AggregateId == id).Select(d => d.Sequence));
        Assert.Empty(bus.ConcurrentPublishesOfOneAggregate);
    }

    [Fact]
    public async Task A_backlog_cut_across_batches_claimed_ahead_goes_out_once_in_aggregate_order()
    {
        var setup = await CreateAsync();
        var ids = Enumerable.Range(0, 12).Select(_ => NewId()).ToArray();
        foreach (var id in ids) await setup.Events.AppendAsync(id, "Counter", Things(3), 0);
        foreach (var id in ids) await setup.Events.AppendAsync(id, "Counter", Things(2), 3);
        var bus = new RecordingPublisher(latency: TimeSpan.FromMilliseconds(3));
        var options = FastOptions();
        // Batches cut aggregates: the next batch is claimed while one is published, and an aggregate's later messages
        // must wait for a claim after its earlier ones are settled.
        options.BatchSize = 5;
        await StartAsync(setup, bus, options);

        await AllDeliveredOnceInOrderAsync(setup, bus, ids, eventsEach: 5);
    }

    [Fact]
    public async Task A_marking_that_fails_while_the_next_batch_of_a_backlog_goes_out_loses_nothing()
    {
        var setup = await CreateAsync();
        var stored = new List<StoredEventEnvelope>();
        for (var i = 0; i < 6; i++) stored.AddRange(await setup.Events.AppendAsync(NewId(), "Counter", Things(2), 0));
        var bus = new RecordingPublisher();
        var options = FastOptions();
        // Full batches: each one's marking runs while the next is published, and the first marking fails.
        options.BatchSize = 4;
        options.ClaimLease = TimeSpan.FromSeconds(1);
        var store = new FailsFirstMarking(setup.Outbox);
        await StartAsync(setup, bus, options, store);

        await EventuallyAsync(async () => await setup.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 0), "an empty outbox",
            TimeSpan.FromSeconds(20));
        Assert.True(store.Failed);
        Assert.All(stored, e => Assert.Contains(bus.Delivered, d => d.EventId == e.EventId));
        // The batch whose marking failed went out again once its claims lapsed (at least once, never lost).
        Assert.Contains(stored, e => bus.Delivered.Count(d => d.EventId == e.EventId) == 2);
    }

    [Fact]
    public async Task A_stopped_dispatcher_gives_back_the_batch_it_claimed_ahead()
    {
        var setup = await CreateAsync();
        for (var i = 0; i < 10; i++) await setup.Events.AppendAsync(NewId(), "Counter", Things(2), 0);
        var bus = new GatedPublisher();
        var options = FastOptions();
        options.BatchSize = 4;
        var running = await StartAsync(setup, bus, options);

        await bus.FirstPublishStarted.WaitAsync(TimeSpan.FromSeconds(15));
        // The first batch is held at the bus; the next one is claimed beside it.
        await EventuallyAsync(async () => (await setup.Monitor.GetCountsAsync()).InFlight == 8, "two batches claimed");
        await running.DisposeAsync();

        var counts = await setup.Monitor.GetCountsAsync();
        Assert.Equal((0L, 20L), (counts.InFlight, counts.Pending + counts.InFlight));
        Assert.Empty(bus.Published);
    }

    [Fact]
    public async Task Delivered_messages_are_pruned_after_the_retention_and_undelivered_ones_never()
    {
        var setup = await CreateAsync();
        await setup.Events.AppendAsync(NewId(), "Counter", Things(2), 0);
        var claimed = await setup.Outbox.ClaimAsync("test", 10, TimeSpan.FromMinutes(1), CancellationToken.None);
        await setup.Outbox.MarkDeliveredAsync(claimed.Select(m => m.Id).ToArray(), CancellationToken.None);
        await setup.Events.AppendAsync(NewId(), "Counter", Things(1), 0);

        Assert.Equal(0, await setup.Outbox.PruneDeliveredAsync(DateTimeOffset.UtcNow.AddMinutes(-1), CancellationToken.None));
        Assert.Equal(2, await setup.Outbox.PruneDeliveredAsync(DateTimeOffset.UtcNow.AddMinutes(1), CancellationToken.None));
        Assert.Equal(new OutboxCounts(1, 0, 0), await setup.Monitor.GetCountsAsync());

        var options = FastOptions();
        options.Retention = TimeSpan.FromMilliseconds(100);
        var bus = new RecordingPublisher();
        await StartAsync(setup, bus, options);
        await EventuallyAsync(() => bus.Delivered.Count == 1, "the waiting message delivered");
        await Task.Delay(400);
        // The dispatcher pruned it already: nothing delivered is left.
        Assert.Equal(0, await setup.Outbox.PruneDeliveredAsync(DateTimeOffset.UtcNow.AddMinutes(1), CancellationToken.None));
    }

    /// <summary>A bus whose publishes wait until the test releases them; records what went out.</summary>
    private sealed class GatedPublisher : IEventPublisher
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _published = new();

        public Task FirstPublishStarted => _started.Task;

        public IReadOnlyList<string> Published => _published.ToArray();

        public void Release() => _released.TrySetResult();

        public async Task PublishAsync(EventMessage message, CancellationToken cancellationToken = default)
        {
            _started.TrySetResult();
            await _released.Task.WaitAsync(cancellationToken);
            _published.Enqueue(message.MessageId);
        }
    }

    /// <summary>
    /// Waits for every event of <paramref name="ids"/> (<paramref name="eventsEach"/> apiece) to be delivered and the outbox
    /// to empty; then each was delivered once, each aggregate's in sequence order, never two of one aggregate at once.
    /// </summary>
    private static async Task AllDeliveredOnceInOrderAsync(Setup setup, RecordingPublisher bus, string[] ids, int eventsEach)
    {
        var total = ids.Length * eventsEach;
        await EventuallyAsync(() => bus.Delivered.Count >= total, $"{total} deliveries");
        await EventuallyAsync(async () => await setup.Monitor.GetCountsAsync() == new OutboxCounts(0, 0, 0), "an empty outbox");
        var delivered = bus.Delivered;
        Assert.Equal(total, delivered.Select(d => d.EventId).Distinct().Count());
        foreach (var id in ids)
            Assert.Equal(Enumerable.Range(1, eventsEach), delivered.Where(d => d.AggregateId == id).Select(d => d.Sequence));
        Assert.Empty(bus.ConcurrentPublishesOfOneAggregate);
    }

    /// <summary>A store whose first marking fails, as a connection lost once would make it.</summary>
    private sealed class FailsFirstMarking(IOutboxStore inner) : DelegatingOutboxStore(inner)
    {
        private int _marks;

        public bool Failed => Volatile.Read(ref _marks) > 0;

        public override Task MarkDeliveredAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _marks) == 1
                ? Task.FromException(new InvalidOperationException("connection lost"))
                : base.MarkDeliveredAsync(ids, cancellationToken);
    }

    /// <summary>A store that loses the connection when marking delivered, as a crash right after publishing would.</summary>
    private sealed class LosesMarkDelivered(IOutboxStore inner) : DelegatingOutboxStore(inner)
    {
        public override Task MarkDeliveredAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("connection lost");
    }

    /// <summary>A store that notes, for each retry scheduled, how far ahead it was scheduled (the dispatcher's backoff, free of the test's timing).</summary>
    private sealed class RecordsRetries(IOutboxStore inner) : DelegatingOutboxStore(inner)
    {
        private readonly ConcurrentQueue<TimeSpan> _delays = new();

        public IReadOnlyList<TimeSpan> Delays => _delays.ToArray();

        public override Task RetryLaterAsync(string owner, long id, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken)
        {
            _delays.Enqueue(nextAttemptAt - DateTimeOffset.UtcNow);
            return base.RetryLaterAsync(owner, id, error, nextAttemptAt, cancellationToken);
        }
    }
}
