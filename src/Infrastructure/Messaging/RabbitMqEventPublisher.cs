using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace OrdersEs.Infrastructure.Messaging;

/// <summary>
/// The RabbitMQ event bus (provider <c>rabbitmq</c>): publishes to a durable topic exchange named by the destination,
/// with the event type as routing key, as persistent JSON messages, and waits for the broker's publisher confirm.
/// </summary>
/// <remarks>
/// <para>One connection, opened on first use and kept; the client library recovers it (and the exchanges declared
/// through it) after the broker comes back. While it is down, a publish fails at once with
/// <see cref="EventPublishException"/> instead of waiting; every call is bounded by
/// <see cref="RabbitMqOptions.PublishTimeout"/>.</para>
/// <para>Thread safety: a channel serves one publish at a time. Publishes rent a channel from a small pool
/// (at most <see cref="RabbitMqOptions.MaxChannels"/>, further callers wait for one) and return it afterwards;
/// a channel that failed in any way is discarded rather than reused.</para>
/// <para>Confirms: a nack, a closed channel or a timeout throws. Messages are published as mandatory; when the
/// broker returns one because no queue is bound for its routing key, the publish still succeeds and a warning
/// is logged once per exchange and event type. On a topic exchange the publisher does not own the subscriptions:
/// an event nobody listens to yet is not an error, and retrying it would only fill the dead-letter table.
/// The events themselves stay in the event store.</para>
/// </remarks>
public sealed class RabbitMqEventPublisher : IEventPublisher, IEventBusProbe, IAsyncDisposable
{
    private static readonly CreateChannelOptions ConfirmingChannel =
        new(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);

    private readonly RabbitMqOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConnectionFactory _factory;
    private readonly SemaphoreSlim _connectionGate = new(1, 1);
    private readonly SemaphoreSlim _channelSlots;
    private readonly ConcurrentQueue<IChannel> _idleChannels = new();
    private readonly ConcurrentDictionary<string, bool> _declaredExchanges = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Exchange, string RoutingKey), bool> _reportedUnroutable = new();
    private IConnection? _connection;
    private volatile bool _disposed;

    public RabbitMqEventPublisher(RabbitMqOptions options, TimeProvider? timeProvider = null, ILogger<RabbitMqEventPublisher>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxChannels, 1);
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<RabbitMqEventPublisher>.Instance;
        _channelSlots = new SemaphoreSlim(options.MaxChannels, options.MaxChannels);
        _factory = new ConnectionFactory
        {
            Uri = options.Url,
            ClientProvidedName = options.ClientName,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = options.RecoveryInterval,
            RequestedConnectionTimeout = options.ConnectTimeout,
            HandshakeContinuationTimeout = options.ConnectTimeout,
            ContinuationTimeout = options.PublishTimeout,
            RequestedHeartbeat = TimeSpan.FromSeconds(15),
        };
    }

    /// <summary>The broker, without credentials.</summary>
    public string DisplayUrl => _options.DisplayUrl;

    public async Task PublishAsync(EventMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var outcome = await PublishInOrderAsync([message], cancellationToken).ConfigureAwait(false);
        if (outcome.Error is not null) ExceptionDispatchInfo.Throw(outcome.Error);
    }

    /// <summary>
    /// Publishes the messages in their order on one channel, all in flight at once, and awaits their confirms together:
    /// the broker enqueues them in that order. After a failed one (a nack, a timeout, a closed channel) the later ones
    /// may have been accepted too; they count as not accepted, so a caller that retries sends them again.
    /// </summary>
    public async Task<PublishOutcome> PublishInOrderAsync(IReadOnlyList<EventMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (messages.Count == 0) return new PublishOutcome(0, null);

        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(_options.PublishTimeout);
        var token = bounded.Token;
        try
        {
            await WaitForChannelSlotAsync(messages[0], cancellationToken, token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return new PublishOutcome(0, e);
        }

        IChannel? channel = null;
        var accepted = 0;
        Exception? error = null;
        // Before any publish, what fails (renting a channel, declaring an exchange) is told with the message it was for.
        var preparing = messages[0];
        try
        {
            channel = await RentChannelAsync(token).ConfigureAwait(false);
            foreach (var message in messages)
            {
                if (_declaredExchanges.ContainsKey(message.Destination)) continue;
                preparing = message;
                await channel.ExchangeDeclareAsync(message.Destination, ExchangeType.Topic, durable: true, autoDelete: false,
                    arguments: null, passive: false, noWait: false, cancellationToken: token).ConfigureAwait(false);
                _declaredExchanges.TryAdd(message.Destination, true);
            }
            // The client sends in call order: one send at a time per channel, behind a semaphore that lets waiters in
            // first come, first served (ConfirmingChannel sets no rate limiter that could delay one call past the next).
            // Each task completes with its message's confirm.
            var confirms = new Task[messages.Count];
            for (var i = 0; i < messages.Count; i++)
            {
                var message = messages[i];
                confirms[i] = channel.BasicPublishAsync(message.Destination, message.EventType, mandatory: true,
                    Properties(message), Encoding.UTF8.GetBytes(message.Body), token).AsTask();
            }
            for (var i = 0; i < confirms.Length; i++)
            {
                try
                {
                    await confirms[i].ConfigureAwait(false);
                }
                catch (PublishException e) when (e.IsReturn)
                {
                    ReportUnroutable(messages[i]);
                }
                catch (Exception e)
                {
                    error ??= Failure(messages[i], e, cancellationToken);
                }
                if (error is null) accepted++;
            }
        }
        catch (Exception e)
        {
            error ??= Failure(preparing, e, cancellationToken);
        }
        finally
        {
            await ReturnChannelAsync(channel, reusable: error is null).ConfigureAwait(false);
        }
        return new PublishOutcome(accepted, error);
    }

    /// <summary>Opens the connection if needed and reports whether the broker is reachable now; never throws.</summary>
    public async Task<(bool Reachable, string Description)> ProbeAsync(CancellationToken cancellationToken = default)
    {
        if (_disposed) return (false, "the publisher is disposed");
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(_options.ConnectTimeout);
        try
        {
            var connection = await GetConnectionAsync(bounded.Token).ConfigureAwait(false);
            return connection.IsOpen
                ? (true, $"connected to RabbitMQ at {DisplayUrl}")
                : (false, $"RabbitMQ at {DisplayUrl} is not connected");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            return (false, e is EventPublishException ? e.Message : $"RabbitMQ at {DisplayUrl} is unreachable: {e.Message}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        while (_idleChannels.TryDequeue(out var channel)) await DisposeQuietlyAsync(channel).ConfigureAwait(false);
        var connection = Interlocked.Exchange(ref _connection, null);
        if (connection is not null) await DisposeQuietlyAsync(connection).ConfigureAwait(false);
    }

    private BasicProperties Properties(EventMessage message)
    {
        var headers = new Dictionary<string, object?>(message.Headers.Count);
        foreach (var (name, value) in message.Headers) headers[name] = value;
        return new BasicProperties
        {
            Persistent = true,
            ContentType = "application/json",
            ContentEncoding = "utf-8",
            MessageId = message.MessageId,
            Type = message.EventType,
            Timestamp = new AmqpTimestamp(_time.GetUtcNow().ToUnixTimeSeconds()),
            Headers = headers,
        };
    }

    private async Task WaitForChannelSlotAsync(EventMessage message, CancellationToken callerToken, CancellationToken token)
    {
        try
        {
            await _channelSlots.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!callerToken.IsCancellationRequested)
        {
            throw Failure(message, $"all {_options.MaxChannels} channels stayed busy for {_options.PublishTimeout.TotalSeconds:0.#}s", e);
        }
    }

    private async Task<IChannel> RentChannelAsync(CancellationToken cancellationToken)
    {
        while (_idleChannels.TryDequeue(out var idle))
        {
            if (idle.IsOpen) return idle;
            await DisposeQuietlyAsync(idle).ConfigureAwait(false);
        }

        var connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.CreateChannelAsync(ConfirmingChannel, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReturnChannelAsync(IChannel? channel, bool reusable)
    {
        try
        {
            if (channel is null) return;
            if (reusable && channel.IsOpen && !_disposed) _idleChannels.Enqueue(channel);
            else await DisposeQuietlyAsync(channel).ConfigureAwait(false);
        }
        finally
        {
            _channelSlots.Release();
        }
    }

    private async Task<IConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _connection);
        if (current is { IsOpen: true }) return current;

        await _connectionGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            current = _connection;
            if (current is { IsOpen: true }) return current;
            if (current is not null)
            {
                if (IsRecovering(current))
                {
                    throw new EventPublishException(
                        $"The connection to RabbitMQ at {DisplayUrl} is lost ({current.CloseReason?.ReplyText}); it is being re-established automatically.");
                }
                // Closed for good (refused credentials, or closed by us): start over with a new connection.
                _connection = null;
                await DisposeQuietlyAsync(current).ConfigureAwait(false);
            }

            try
            {
                current = await _factory.CreateConnectionAsync(_options.ClientName, cancellationToken).ConfigureAwait(false);
            }
            catch (BrokerUnreachableException e)
            {
                throw new EventPublishException($"RabbitMQ at {DisplayUrl} is unreachable: {e.InnerException?.Message ?? e.Message}", e);
            }
            _logger.LogInformation("Connected to RabbitMQ at {Broker}", DisplayUrl);
            _connection = current;
            return current;
        }
        finally
        {
            _connectionGate.Release();
        }
    }

    // Mirrors the client's own rule: it recovers from anything but a close we asked for or refused credentials.
    private static bool IsRecovering(IConnection connection) =>
        connection.CloseReason is { } reason
        && reason.Initiator != ShutdownInitiator.Application
        && reason.ReplyCode != Constants.AccessRefused;

    /// <summary>
    /// Why <paramref name="message"/> was not accepted: the caller's cancellation as it is, anything else as an
    /// <see cref="EventPublishException"/> saying what happened.
    /// </summary>
    private Exception Failure(EventMessage message, Exception error, CancellationToken callerToken)
    {
        switch (error)
        {
            case OperationCanceledException when callerToken.IsCancellationRequested:
            case EventPublishException:
            case ObjectDisposedException when _disposed:
                return error;
            case OperationCanceledException:
                return Failure(message, $"no answer within {_options.PublishTimeout.TotalSeconds:0.#}s", error);
            case PublishException:
                return Failure(message, "the broker rejected it (nack)", error);
            default:
                // The exchange may be gone (broker reset) or the channel closed on an error: declare again next time.
                _declaredExchanges.TryRemove(message.Destination, out _);
                return Failure(message, error.Message, error);
        }
    }

    private EventPublishException Failure(EventMessage message, string reason, Exception inner) =>
        new($"Publishing {message.EventType} {message.MessageId} to exchange '{message.Destination}' on RabbitMQ at {DisplayUrl} failed: {reason}", inner);

    private void ReportUnroutable(EventMessage message)
    {
        if (_reportedUnroutable.TryAdd((message.Destination, message.EventType), true))
        {
            _logger.LogWarning(
                "No queue is bound to exchange {Exchange} for routing key {RoutingKey}; the broker dropped the message (reported once per exchange and event type)",
                message.Destination, message.EventType);
        }
    }

    private static async Task DisposeQuietlyAsync(IAsyncDisposable resource)
    {
        try
        {
            await resource.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Best effort: the resource is already broken or closing.
        }
    }
}
