using Microsoft.EntityFrameworkCore;
using OrdersEs.Domain.Orders;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;

namespace OrdersEs.Infrastructure.ReadModel;

/// <summary>
/// Keeps <c>orders_view</c> up to date from the order events. Idempotent: an event whose sequence the row
/// already has is ignored, so at-least-once delivery can never double-count.
/// </summary>
public sealed class OrdersViewProjection(EventStoreDatabase database, EfCoreCheckpointStore checkpoints, EventSerializer serializer)
    : EfCoreProjection(database, checkpoints)
{
    public const string ProjectionName = "orders_view";

    public override string Name => ProjectionName;

    protected override async Task ApplyAsync(EventStoreDbContext db, StoredEventEnvelope envelope, CancellationToken cancellationToken)
    {
        if (envelope.AggregateType != nameof(Order)) return;
        // UTC without a kind: the columns are zone-less TIMESTAMP, and Npgsql refuses a UTC-kind DateTime for those.
        var at = DateTime.SpecifyKind(envelope.OccurredAt.UtcDateTime, DateTimeKind.Unspecified);
        // The context does not track by default: the row is read tracked (or taken from this batch's own
        // changes) so that SaveChanges writes what the event changed.
        var view = db.ChangeTracker.Entries<OrderView>().FirstOrDefault(e => e.Entity.Id == envelope.AggregateId)?.Entity
                   ?? await db.Orders.AsTracking().FirstOrDefaultAsync(o => o.Id == envelope.AggregateId, cancellationToken);
        if (view is not null && envelope.Sequence <= view.Version) return;

        var domainEvent = serializer.Deserialize(envelope);
        if (domainEvent is OrderPlaced placed)
        {
            if (view is not null) return;
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
    }

    protected override Task ClearAsync(EventStoreDbContext db, CancellationToken cancellationToken) =>
        db.Orders.ExecuteDeleteAsync(cancellationToken);

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
