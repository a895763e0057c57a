using System.Text.Json;
using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>
/// Captures and restores the snapshot state of aggregates implementing <see cref="ISnapshotCapable{TState}"/>,
/// as snake_case JSON. Built once per aggregate type; null for aggregates that do not take snapshots.
/// </summary>
internal abstract class SnapshotCodec<T> where T : AggregateRoot
{
    public abstract int SchemaVersion { get; }

    public abstract string Capture(T aggregate);

    public abstract bool TryRestore(T aggregate, string payload, out string? error);

    private static readonly SnapshotCodec<T>? Instance = Create();

    public static SnapshotCodec<T>? ForAggregate() => Instance;

    private static SnapshotCodec<T>? Create()
    {
        var capability = typeof(T).GetInterfaces()
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ISnapshotCapable<>));
        if (capability is null) return null;
        var codecType = typeof(SnapshotCodec<,>).MakeGenericType(typeof(T), capability.GetGenericArguments()[0]);
        return (SnapshotCodec<T>)Activator.CreateInstance(codecType)!;
    }
}

internal sealed class SnapshotCodec<T, TState> : SnapshotCodec<T>
    where T : AggregateRoot, ISnapshotCapable<TState>
    where TState : class
{
    public override int SchemaVersion => T.SnapshotSchemaVersion;

    public override string Capture(T aggregate) =>
        JsonSerializer.Serialize(aggregate.CaptureSnapshot(), EventSerializer.Options);

    public override bool TryRestore(T aggregate, string payload, out string? error)
    {
        try
        {
            var state = JsonSerializer.Deserialize<TState>(payload, EventSerializer.Options);
            if (state is null)
            {
                error = "payload is null";
                return false;
            }
            aggregate.RestoreSnapshot(state);
            error = null;
            return true;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            error = e.Message;
            return false;
        }
    }
}
