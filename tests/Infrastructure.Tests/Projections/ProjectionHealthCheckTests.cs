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

    private async Task<(ProjectionMonitor Monitor, ProjectionHealthCheck Check, ProjectionFixture Fixture)> SetUpAsync(TimeSpan? threshold = null)
    {
        var fixture = Own(await ProjectionFixture.MemoryAsync());
        var monitor = new ProjectionMonitor(_time);
        var options = new ProjectionHealthOptions();
        if (threshold is { } value) options.FailingDegradedAfter = value;
        return (monitor, new ProjectionHealthCheck(monitor, Options.Create(options), _time), fixture);
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
