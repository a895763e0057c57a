using System.Text.Json;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;
using OrdersEs.Infrastructure.Idempotency;

namespace OrdersEs.Api.Http;

/// <summary>
/// The write path of every command on an existing aggregate: load it with its stream's tenant (one read), check the
/// tenant and <c>If-Match</c>, apply the change and append its events under optimistic concurrency. Failures leave as
/// the API's exceptions naming the aggregate type: not found (404), rule (409), concurrency (409), precondition (412).
/// </summary>
public sealed class AggregateWriter<T>(EventSourcedRepository<T> repository, IdempotencyStore idempotency) where T : AggregateRoot
{
    private static readonly AggregateName Name = AggregateNames.Of<T>();

    /// <summary>Changes the aggregate and saves it; answers it as saved (its new <see cref="AggregateRoot.Version"/>).</summary>
    public async ValueTask<T> ChangeAsync(string id, IfMatch? ifMatch, ApiRequestContext request, Action<T> change, CancellationToken cancellationToken)
    {
        var loaded = id.Length <= AggregateRoot.MaxIdLength ? await repository.LoadWithTenantAsync(id, cancellationToken) : null;
        if (loaded is null || !request.Owns(loaded.TenantId))
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

    /// <summary>
    /// Appends a new aggregate's events and answers <paramref name="answer"/>. With an <c>Idempotency-Key</c>, the key is
    /// claimed first and the answer (kept 24 hours) is written in the same transaction as the events, so a crash can never
    /// leave an aggregate whose key a retry would create again; a repeat with the same body gets the first answer back,
    /// with another body a 422, while the first is still running a 409.
    /// </summary>
    public async ValueTask<CreatedAnswer<TBody>> CreateAsync<TBody>(
        T aggregate, CreatedAnswer<TBody> answer, ApiRequestContext request, string? idempotencyKey, string requestHash,
        CancellationToken cancellationToken)
    {
        var context = request.ToEventContext();
        if (idempotencyKey is not { } key)
        {
            await SaveAsync(aggregate, context, cancellationToken);
            return answer;
        }

        var tenant = request.TenantId;
        string token;
        switch (await idempotency.ClaimAsync(tenant, key, requestHash, cancellationToken))
        {
            case IdempotencyClaim.Completed completed:
                return new CreatedAnswer<TBody>(JsonSerializer.Deserialize<TBody>(completed.Response.Body, JsonSerializerOptions.Web)!,
                    completed.Response.Location ?? "", completed.Response.ETag ?? "");
            case IdempotencyClaim.BodyMismatch:
                throw new IdempotencyKeyReusedException(key);
            case IdempotencyClaim.Acquired acquired:
                token = acquired.Token;
                break;
            default:
                throw new IdempotencyInProgressException(key);
        }
        var stored = new IdempotentResponse(StatusCodes.Status201Created,
            JsonSerializer.Serialize(answer.Body, JsonSerializerOptions.Web), answer.Location, answer.ETag);
        var completion = idempotency.Completion(tenant, key, token, stored);
        try
        {
            await SaveAsync(aggregate, context with { Participant = completion }, cancellationToken);
        }
        catch
        {
            await idempotency.ReleaseAsync(tenant, key, token, CancellationToken.None);
            throw;
        }
        if (!completion.Written) await idempotency.CompleteAsync(completion, CancellationToken.None);
        return answer;
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
