using System.Text.Json;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using OrdersEs.Api.Http;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.EventStore;

namespace OrdersEs.Api.Orders;

/// <summary>One stored event of an order: the envelope, with the snake_case payload as JSON.</summary>
public sealed record StoredEventResponse(
    string EventId, int Sequence, string EventType, JsonElement Payload, IReadOnlyDictionary<string, string> Metadata,
    DateTimeOffset OccurredAt, long GlobalPosition, int SchemaVersion)
{
    internal static StoredEventResponse From(StoredEventEnvelope envelope)
    {
        using var payload = JsonDocument.Parse(envelope.Payload);
        return new(envelope.EventId, envelope.Sequence, envelope.EventType, payload.RootElement.Clone(), envelope.Metadata,
            envelope.OccurredAt, envelope.GlobalPosition, envelope.SchemaVersion);
    }
}

/// <summary>The order's stored events in sequence order, straight from the event store; null for an unknown order or another tenant's.</summary>
public sealed record GetOrderEventsQuery(string OrderId, ApiRequestContext Request) : IQuery<IReadOnlyList<StoredEventResponse>?>;

/// <summary>Reads the stream with <see cref="IEventStore.LoadAsync"/>.</summary>
public sealed class GetOrderEventsHandler(IEventStore store) : IQueryHandler<GetOrderEventsQuery, IReadOnlyList<StoredEventResponse>?>
{
    public async ValueTask<IReadOnlyList<StoredEventResponse>?> Handle(GetOrderEventsQuery query, CancellationToken cancellationToken)
    {
        if (query.OrderId.Length > OrderRules.MaxIdLength) return null;
        var envelopes = await store.LoadAsync(query.OrderId, 0, cancellationToken);
        if (envelopes.Count == 0 || envelopes[0].AggregateType != nameof(Order)
            || !string.Equals(envelopes[0].TenantId, query.Request.TenantId, StringComparison.Ordinal))
            return null;
        return envelopes.Select(StoredEventResponse.From).ToArray();
    }
}

/// <summary><c>GET /api/orders/{id}/events</c>.</summary>
public static class GetOrderEventsEndpoint
{
    public static void Map(RouteGroupBuilder group) => group.MapGet("/{id}/events", HandleAsync)
        .WithName("GetOrderEvents")
        .WithSummary("Read an order's stored events")
        .WithDescription("The order's event envelopes in sequence order, from the event store (always current).")
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Results<Ok<IReadOnlyList<StoredEventResponse>>, ProblemHttpResult>> HandleAsync(
        string id, ApiRequestContext request, IMediator mediator, HttpContext http, CancellationToken cancellationToken)
    {
        var events = await mediator.Send(new GetOrderEventsQuery(id, request), cancellationToken);
        return events is null ? TypedResults.Problem(ApiProblems.OrderNotFound(http, id)) : TypedResults.Ok(events);
    }
}
