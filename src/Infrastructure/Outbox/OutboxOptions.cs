using Microsoft.Extensions.Options;

namespace OrdersEs.Infrastructure.Outbox;

/// <summary>Tuning of the <see cref="OutboxDispatcher"/>, bound from <c>pyfly:eventsourcing:outbox</c>.</summary>
public sealed class OutboxOptions
{
    public const string SectionKey = "pyfly:eventsourcing:outbox";

    /// <summary>Attempts before a message moves to the dead letters (the seed's <c>max_attempts</c>).</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Messages claimed per round.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>
    /// Lanes a batch is published on at once: its aggregates are spread over them, each aggregate's messages in one lane in
    /// order. On RabbitMQ a lane is one channel with all its messages in flight: the default matches the publisher's 32 channels.
    /// </summary>
    public int MaxConcurrentPublishes { get; set; } = 32;

    /// <summary>
    /// How long a claim holds unless renewed; after it, another instance may take the message (a crashed dispatcher's rows).
    /// A live dispatcher renews its claims every <see cref="ClaimRenewInterval"/> until it settles them, so a batch may take longer.
    /// </summary>
    public TimeSpan ClaimLease { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a dispatcher renews the claims of the batch it is delivering; shorter than <see cref="ClaimLease"/>.</summary>
    public TimeSpan ClaimRenewInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest the dispatcher sleeps without a wake-up signal before it looks for messages anyway.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Delay before the second attempt of a message, and the first step of the outage backoff; doubles each time.</summary>
    public TimeSpan InitialRetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Cap on the retry and outage backoff.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long delivered rows are kept (for inspection) before they are pruned.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often the dispatcher prunes delivered rows.</summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Rejects outbox options that cannot work, naming the key.</summary>
internal sealed class OutboxOptionsValidator : IValidateOptions<OutboxOptions>
{
    public ValidateOptionsResult Validate(string? name, OutboxOptions options)
    {
        var failures = new List<string>();
        if (options.MaxAttempts < 1) failures.Add(Failure(nameof(options.MaxAttempts), options.MaxAttempts, "at least 1"));
        if (options.BatchSize < 1) failures.Add(Failure(nameof(options.BatchSize), options.BatchSize, "at least 1"));
        if (options.MaxConcurrentPublishes < 1) failures.Add(Failure(nameof(options.MaxConcurrentPublishes), options.MaxConcurrentPublishes, "at least 1"));
        Positive(nameof(options.ClaimLease), options.ClaimLease);
        Positive(nameof(options.ClaimRenewInterval), options.ClaimRenewInterval);
        if (options.ClaimRenewInterval >= options.ClaimLease)
            failures.Add(Failure(nameof(options.ClaimRenewInterval), options.ClaimRenewInterval, $"less than {nameof(options.ClaimLease)} ({options.ClaimLease})"));
        Positive(nameof(options.PollInterval), options.PollInterval);
        Positive(nameof(options.InitialRetryDelay), options.InitialRetryDelay);
        Positive(nameof(options.Retention), options.Retention);
        Positive(nameof(options.PruneInterval), options.PruneInterval);
        if (options.MaxRetryDelay < options.InitialRetryDelay)
            failures.Add(Failure(nameof(options.MaxRetryDelay), options.MaxRetryDelay, $"at least {nameof(options.InitialRetryDelay)} ({options.InitialRetryDelay})"));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void Positive(string key, TimeSpan value)
        {
            if (value <= TimeSpan.Zero) failures.Add(Failure(key, value, "a positive duration such as 00:00:30"));
        }
    }

    private static string Failure(string key, object value, string expected) =>
        $"Configuration key '{OutboxOptions.SectionKey}:{key}' has the value '{value}'; expected {expected}.";
}
