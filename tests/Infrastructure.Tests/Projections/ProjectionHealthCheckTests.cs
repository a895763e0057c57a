using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Outbox;
using OrdersEs.Infrastructure.Projections;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.Projections;

/// <summary>Readiness reports a failing projection degraded only after the configured time, and dead letters with their count.</summary>
public sealed class ProjectionHealthCheckTests : OwnsResources
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private async Task<(ProjectionMonitor Monitor, ProjectionHealthCheck Check, ProjectionFixture Fixture)> SetUpAsync(
        TimeSpan? threshold = null, int? lagEvents = null)
    {
        var fixture = Own(await ProjectionFixture.MemoryAsync());
        var monitor = new ProjectionMonitor(_time);
        var options = new ProjectionHealthOptions();
        if (threshold is { } value) options.FailingDegradedAfter = value;
        if (lagEvents is { } events) options.LagDegradedEvents = events;
        return (monitor, new ProjectionHealthCheck(monitor, fixture.Store, Options.Create(options), _time), fixture);
    }

    private static Task<HealthCheckResult> CheckAsync(IHealthCheck check) =>
        check.CheckHealthAsync(new HealthCheckContext
        {
            Registration = new HealthCheckRegistration("under-test", check, HealthStatus.Degraded, null),
        });

    private static async Task FailOnPoisonAsync(ProjectionFixture fixture, ProjectionMonitor monitor, string name)
    {
        await fixture.TallyAsync("poison");
        var projection = new FunctionProjection(name, (_, _) => throw new InvalidOperationException("broken handler"));
        await fixture.StartAsync(projection, monitor: monitor);
        await EventuallyAsync(() => Task.FromResult(monitor.Find(name)?.Failure is not null));
    }

    // The monitor's own waits run on its (fake) clock: poll on the real one.
    private static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 20 s");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_projection_failing_for_less_than_the_default_60_seconds_is_still_healthy()
    {
        var (monitor, check, fixture) = await SetUpAsync();
        await FailOnPoisonAsync(fixture, monitor, "young");

        _time.Advance(TimeSpan.FromSeconds(59));

        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(check)).Status);
    }

    [Fact]
    public async Task A_projection_failing_for_60_seconds_is_degraded_and_named_with_its_event()
    {
        var (monitor, check, fixture) = await SetUpAsync();
        await FailOnPoisonAsync(fixture, monitor, "stuck");
        var failure = monitor.Find("stuck")!.Failure!;

        _time.Advance(TimeSpan.FromSeconds(60));
        var result = await CheckAsync(check);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("'stuck'", result.Description);
        Assert.Contains(failure.EventId!, result.Description);
        Assert.Contains("broken handler", result.Description);
        Assert.Contains("stuck", result.Data.Keys);
    }

    [Fact]
    public async Task The_degraded_threshold_is_configurable()
    {
        var (monitor, check, fixture) = await SetUpAsync(TimeSpan.FromSeconds(5));
        await FailOnPoisonAsync(fixture, monitor, "impatient");

        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(HealthStatus.Degraded, (await CheckAsync(check)).Status);
    }

    [Fact]
    public async Task A_projection_that_got_past_its_failure_is_healthy_again()
    {
        var (monitor, check, fixture) = await SetUpAsync();
        await fixture.TallyAsync("flaky");
        var failuresLeft = 3;
        var projection = new FunctionProjection("recovers", (_, _) =>
            Interlocked.Decrement(ref failuresLeft) >= 0 ? throw new InvalidOperationException("transient") : Task.CompletedTask);
        await fixture.StartAsync(projection, monitor: monitor);
        await EventuallyAsync(() => Task.FromResult(monitor.Find("recovers")?.Failure is not null));
        _time.Advance(TimeSpan.FromMinutes(5));

        await EventuallyAsync(async () =>
            monitor.Find("recovers")!.Failure is null && await projection.LoadCheckpointAsync(CancellationToken.None) > GlobalCheckpoint.Start);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(check)).Status);
    }

    // A projection held on its first batch (no failure): its checkpoint stays before every event until released.
    private static async Task<TaskCompletionSource> HoldAsync(ProjectionFixture fixture, ProjectionMonitor monitor, string name, int events)
    {
        for (var i = 0; i < events; i++) await fixture.TallyAsync($"{name}-{i}");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await fixture.StartAsync(new FunctionProjection(name, (_, ct) => release.Task.WaitAsync(ct)), monitor: monitor);
        await EventuallyAsync(() => Task.FromResult(monitor.Find(name) is { Active: true }));
        return release;
    }

    [Fact]
    public async Task A_projection_more_events_behind_the_head_than_the_threshold_is_degraded_until_it_catches_up()
    {
        var (monitor, check, fixture) = await SetUpAsync(lagEvents: 3);
        var release = await HoldAsync(fixture, monitor, "slow", events: 4);

        var result = await CheckAsync(check);
        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("'slow' is more than 3 events behind", result.Description);

        release.SetResult();
        await EventuallyAsync(async () => (await CheckAsync(check)).Status == HealthStatus.Healthy);
    }

    [Fact]
    public async Task A_projection_within_the_event_threshold_is_degraded_once_its_oldest_unapplied_event_waited_60_seconds()
    {
        var (monitor, check, fixture) = await SetUpAsync();
        await HoldAsync(fixture, monitor, "stale", events: 2);
        // The events carry the real time they were stored at; the check reads its own (fake) clock.
        _time.SetUtcNow(DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30));
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(check)).Status);

        _time.Advance(TimeSpan.FromSeconds(31));
        var result = await CheckAsync(check);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("'stale' is 2 event(s) behind", result.Description);
        Assert.Contains("stale", result.Data.Keys);
    }

    [Fact]
    public async Task A_rebuilding_projection_is_behind_by_design_and_stays_healthy()
    {
        var (monitor, check, fixture) = await SetUpAsync(lagEvents: 1);
        await HoldAsync(fixture, monitor, "replaying", events: 3);
        Assert.Equal(HealthStatus.Degraded, (await CheckAsync(check)).Status);

        await monitor.RebuildAsync("replaying", CancellationToken.None);

        Assert.True(monitor.Find("replaying")!.Rebuilding);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(check)).Status);
    }

    [Fact]
    public async Task Dead_letters_make_the_outbox_degraded_with_their_count()
    {
        var check = new OutboxHealthCheck(new CountsOnly(new OutboxCounts(Pending: 4, InFlight: 0, DeadLettered: 3)));

        var result = await CheckAsync(check);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("3 dead letter(s)", result.Description);
        Assert.Equal(3L, result.Data["deadLettered"]);
    }

    [Fact]
    public async Task An_outbox_without_dead_letters_is_healthy()
    {
        var result = await CheckAsync(new OutboxHealthCheck(new CountsOnly(new OutboxCounts(10, 2, 0))));

        Assert.Equal(HealthStatus.Healthy, result.Status);
    }

    private sealed class CountsOnly(OutboxCounts counts) : IOutboxMonitor
    {
        public Task<OutboxCounts> GetCountsAsync(CancellationToken cancellationToken = default) => Task.FromResult(counts);

        public Task<IReadOnlyList<OutboxDeadLetter>> GetDeadLettersAsync(int limit = 100, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<OutboxDeadLetter>>([]);

        public Task<IReadOnlyList<OutboxSkippedMessage>> GetSkippedAsync(int limit = 100, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<OutboxSkippedMessage>>([]);

        public Task<DeadLetterOutcome> RetryDeadLetterAsync(long id, CancellationToken cancellationToken = default) =>
            Task.FromResult(DeadLetterOutcome.NotFound);

        public Task<DeadLetterOutcome> SkipDeadLetterAsync(long id, string reason, CancellationToken cancellationToken = default) =>
            Task.FromResult(DeadLetterOutcome.NotFound);
    }
}
