using Microsoft.EntityFrameworkCore;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;

namespace OrdersEs.Infrastructure.ReadModels.Orders;

/// <summary>
/// Keeps <c>orders_view</c> up to date from the order events. Idempotent: an event whose sequence the row
/// already has is ignored, so at-least-once delivery can never double-count.
/// </summary>
public sealed class OrdersViewProjection(EventStoreDatabase database, EfCoreCheckpointStore checkpoints, EventSerializer serializer)
    : EfCoreProjection<OrdersViewDbContext>(database, checkpoints)
{
    public const string ProjectionName = OrdersViewSchema.TableName;

    public override string Name => ProjectionName;

    protected override async Task PrefetchAsync(OrdersViewDbContext db, IReadOnlyList<StoredEventEnvelope> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Where(e => e.AggregateType == nameof(Order)).Select(e => e.AggregateId).Distinct().ToArray();
        // Tracked, so ApplyAsync finds them in the context without a round trip per event.
        await db.Orders.Where(o => ids.Contains(o.Id)).LoadAsync(cancellationToken);
    }

    protected override Task ApplyAsync(OrdersViewDbContext db, StoredEventEnvelope envelope, CancellationToken cancellationToken)
    {
        if (envelope.AggregateType != nameof(Order)) return Task.CompletedTask;
        var at = DateTime.SpecifyKind(envelope.OccurredAt.UtcDateTime, DateTimeKind.Unspecified);
        // PrefetchAsync loaded every existing row of the batch: a row not tracked now does not exist.
        var view = db.Orders.Local.FindEntry(envelope.AggregateId)?.Entity;
        if (view is not null && envelope.Sequence <= view.Version) return Task.CompletedTask;

        var domainEvent = serializer.Deserialize(envelope);
        if (domainEvent is OrderPlaced placed)
        {
            if (view is not null) return Task.CompletedTask;
            view = new OrderView
            {
                Id = envelope.AggregateId,
                TenantId = envelope.TenantId,
                CustomerId = placed.CustomerId,
                Currency = placed.Currency,
                Status = nameof(OrderStatus.Placed),
                LinesJson = "[]",
                PlacedAt = at,
            };
            view.SetLines(placed.Lines);
            db.Orders.Add(view);
        }
        else if (view is null)
        {
            throw new InvalidOperationException($"Order {envelope.AggregateId} has no view row for its event #{envelope.Sequence}: its OrderPlaced is missing.");
        }
        else
        {
            Apply(view, domainEvent);
        }
        view.Version = envelope.Sequence;
        view.UpdatedAt = at;
        return Task.CompletedTask;
    }

    protected override void BeforeSave(OrdersViewDbContext db)
    {
        foreach (var view in db.Orders.Local) view.FlushLines();
    }

    private static void Apply(OrderView view, object domainEvent)
    {
        switch (domainEvent)
        {
            case OrderLineAdded added:
                view.SetLines([.. view.Lines(), added.Line]);
                break;
            case OrderLineRemoved removed:
                view.SetLines(view.Lines().Where(l => l.Sku != removed.Sku).ToArray());
                break;
            case OrderConfirmed:
                view.Status = nameof(OrderStatus.Confirmed);
                break;
            case OrderShipped:
                view.Status = nameof(OrderStatus.Shipped);
                break;
            case OrderCancelled:
                view.Status = nameof(OrderStatus.Cancelled);
                break;
        }
    }
}
