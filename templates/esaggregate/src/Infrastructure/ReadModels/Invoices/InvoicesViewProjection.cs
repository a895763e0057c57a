using Microsoft.EntityFrameworkCore;
using OrdersEs.Domain.Invoices;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;

namespace OrdersEs.Infrastructure.ReadModels.Invoices;

/// <summary>
/// Keeps <c>invoices_view</c> up to date from the invoice events. Idempotent: an event whose sequence the row
/// already has is ignored, so at-least-once delivery can never apply one twice.
/// </summary>
public sealed class InvoicesViewProjection(EventStoreDatabase database, EfCoreCheckpointStore checkpoints, EventSerializer serializer)
    : EfCoreProjection<InvoicesViewDbContext>(database, checkpoints)
{
    public const string ProjectionName = InvoicesViewSchema.TableName;

    public override string Name => ProjectionName;

    protected override async Task PrefetchAsync(InvoicesViewDbContext db, IReadOnlyList<StoredEventEnvelope> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Where(e => e.AggregateType == nameof(Invoice)).Select(e => e.AggregateId).Distinct().ToArray();
        if (ids.Length == 0) return;
        // Tracked, so ApplyAsync finds them in the context without a round trip per event.
        await db.Invoices.Where(r => ids.Contains(r.Id)).LoadAsync(cancellationToken);
    }

    protected override Task ApplyAsync(InvoicesViewDbContext db, StoredEventEnvelope envelope, CancellationToken cancellationToken)
    {
        if (envelope.AggregateType != nameof(Invoice)) return Task.CompletedTask;
        var at = DateTime.SpecifyKind(envelope.OccurredAt.UtcDateTime, DateTimeKind.Unspecified);
        // PrefetchAsync loaded every existing row of the batch: a row not tracked now does not exist.
        var view = db.Invoices.Local.FindEntry(envelope.AggregateId)?.Entity;
        if (view is not null && envelope.Sequence <= view.Version) return Task.CompletedTask;

        var domainEvent = serializer.Deserialize(envelope);
        if (domainEvent is InvoiceCreated created)
        {
            if (view is not null) return Task.CompletedTask;
            view = new InvoiceView
            {
                Id = envelope.AggregateId,
                TenantId = envelope.TenantId,
                Name = created.Name,
                Status = nameof(InvoiceStatus.Open),
                CreatedAt = at,
            };
            db.Invoices.Add(view);
        }
        else if (view is null)
        {
            throw new InvalidOperationException(
                $"{nameof(Invoice)} {envelope.AggregateId} has no view row for its event #{envelope.Sequence}: its {nameof(InvoiceCreated)} is missing.");
        }
        else
        {
            Apply(view, domainEvent);
        }
        view.Version = envelope.Sequence;
        view.UpdatedAt = at;
        return Task.CompletedTask;
    }

    private static void Apply(InvoiceView view, object domainEvent)
    {
        switch (domainEvent)
        {
            case InvoiceRenamed renamed:
                view.Name = renamed.Name;
                break;
            case InvoiceClosed:
                view.Status = nameof(InvoiceStatus.Closed);
                break;
        }
    }
}
