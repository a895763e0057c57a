using OrdersEs.Domain.EventSourcing;

namespace OrdersEs.Infrastructure.EventSourcing;

/// <summary>Rewrites a stored envelope of an old event version or name into the current one.</summary>
public interface IEventUpcaster
{
    bool CanUpcast(StoredEventEnvelope envelope);
    StoredEventEnvelope Upcast(StoredEventEnvelope envelope);
}

/// <summary>An ordered chain of upcasters run on every read path; with none it returns its input unchanged.</summary>
public sealed class UpcasterChain(IEnumerable<IEventUpcaster> upcasters)
{
    private readonly IEventUpcaster[] _upcasters = upcasters.ToArray();

    public static readonly UpcasterChain None = new([]);

    public bool IsEmpty => _upcasters.Length == 0;

    public StoredEventEnvelope Apply(StoredEventEnvelope envelope)
    {
        foreach (var upcaster in _upcasters)
        {
            if (upcaster.CanUpcast(envelope)) envelope = upcaster.Upcast(envelope);
        }
        return envelope;
    }

    public IReadOnlyList<StoredEventEnvelope> Apply(IReadOnlyList<StoredEventEnvelope> envelopes)
    {
        if (IsEmpty) return envelopes;
        var result = new StoredEventEnvelope[envelopes.Count];
        for (var i = 0; i < result.Length; i++) result[i] = Apply(envelopes[i]);
        return result;
    }
}
