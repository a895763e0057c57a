using Microsoft.EntityFrameworkCore;
using OrdersEs.Infrastructure.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using OrdersEs.Infrastructure.Projections;

namespace OrdersEs.Infrastructure.Tests.TestReadModel;

/// <summary>
/// Keeps <c>test_counters_view</c> up to date from the counter events. Idempotent: an event whose sequence the row
/// already has is ignored, so at-least-once delivery can never double-count.
/// </summary>
public sealed class CountersViewProjection(EventStoreDatabase database, EfCoreCheckpointStore checkpoints, EventSerializer serializer)
    : EfCoreProjection<CountersViewDbContext>(database, checkpoints)
{
    public const string ProjectionName = CountersViewSchema.TableName;

    public override string Name => ProjectionName;

    protected override async Task PrefetchAsync(CountersViewDbContext db, IReadOnlyList<StoredEventEnvelope> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Where(e => e.AggregateType == nameof(Counter)).Select(e => e.AggregateId).Distinct().ToArray();
        // Tracked, so ApplyAsync finds them in the context without a round trip per event.
        await db.Counters.Where(c => ids.Contains(c.Id)).LoadAsync(cancellationToken);
    }

    protected override Task ApplyAsync(CountersViewDbContext db, StoredEventEnvelope envelope, CancellationToken cancellationToken)
    {
        if (envelope.AggregateType != nameof(Counter)) return Task.CompletedTask;
        var at = DateTime.SpecifyKind(envelope.OccurredAt.UtcDateTime, DateTimeKind.Unspecified);
        // PrefetchAsync loaded every existing row of the batch: a row not tracked now does not exist.
        var view = db.Counters.Local.FindEntry(envelope.AggregateId)?.Entity;
        if (view is not null && envelope.Sequence <= view.Version) return Task.CompletedTask;

        var domainEvent = serializer.Deserialize(envelope);
        if (view is null)
        {
            // A counter has no opening event: its first event, whichever it is, makes the row.
            view = new CounterView
            {
                Id = envelope.AggregateId,
                TenantId = envelope.TenantId,
                Status = nameof(CounterStatus.Open),
                ThingsJson = "[]",
                StartedAt = at,
            };
            db.Counters.Add(view);
        }
        Apply(view, domainEvent);
        view.Version = envelope.Sequence;
        view.UpdatedAt = at;
        return Task.CompletedTask;
    }

    protected override void BeforeSave(CountersViewDbContext db)
    {
        foreach (var view in db.Counters.Local) view.FlushThings();
    }

    private static void Apply(CounterView view, object domainEvent)
    {
        switch (domainEvent)
        {
            case ThingHappened happened:
                view.Count(happened.ThingName, happened.HowMany);
                break;
            case ThingsCounted counted:
                view.CountedBy = counted.CountedBy;
                foreach (var thing in counted.Things) view.Count(thing.Thing, thing.HowMany);
                break;
            case ThingRenamed renamed:
                view.Name = renamed.NewName;
                break;
            case CounterClosed:
                view.Status = nameof(CounterStatus.Closed);
                break;
        }
    }
}
