using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Api.Http;

/// <summary>
/// The write path of every command on an existing aggregate: load it with its stream's tenant (one read), check the
/// tenant and <c>If-Match</c>, apply the change and append its events under optimistic concurrency. Failures leave as
/// the API's exceptions naming the aggregate type: not found (404), rule (409), concurrency (409), precondition (412).
/// </summary>
public sealed class AggregateWriter<T>(EventSourcedRepository<T> repository) where T : AggregateRoot
{
    private static readonly AggregateName Name = AggregateNames.Of<T>();

    /// <summary>Changes the aggregate and saves it; answers it as saved (its new <see cref="AggregateRoot.Version"/>).</summary>
    public async ValueTask<T> ChangeAsync(string id, IfMatch? ifMatch, ApiRequestContext request, Action<T> change, CancellationToken cancellationToken)
    {
        var loaded = id.Length <= AggregateRoot.MaxIdLength ? await repository.LoadWithTenantAsync(id, cancellationToken) : null;
        if (loaded is null || !string.Equals(loaded.TenantId, request.TenantId, StringComparison.Ordinal))
            throw new AggregateNotFoundException(Name, id);
        var aggregate = loaded.Aggregate;
        if (ifMatch is not null && !ifMatch.Matches(aggregate.Version))
            throw new PreconditionFailedException(Name, id, ifMatch.Header, aggregate.Version);
        try
        {
            change(aggregate);
        }
        catch (DomainRuleException rule)
        {
            throw new AggregateRuleException(Name, id, rule);
        }
        await SaveAsync(aggregate, request.ToEventContext(), cancellationToken);
        return aggregate;
    }

    /// <summary>Appends a new aggregate's events (or any aggregate's pending ones) with <paramref name="context"/>.</summary>
    public async ValueTask SaveAsync(T aggregate, EventContext context, CancellationToken cancellationToken)
    {
        try
        {
            await repository.SaveAsync(aggregate, context, cancellationToken);
        }
        catch (ConcurrencyException conflict)
        {
            throw new AggregateConcurrencyException(Name, conflict);
        }
    }
}
