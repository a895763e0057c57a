namespace OrdersEs.Bench.Scenarios;

/// <summary>
/// The hand-written baseline's SQL. It writes into OrdersEs's own tables (same columns, defaults, constraints and
/// indexes: the same durable work) with the outbox trigger dropped, inserting the outbox rows itself.
/// </summary>
public static class RawSchema
{
    public const string DropOutboxTrigger = "DROP TRIGGER IF EXISTS orderses_outbox_enqueue ON pyfly_event_store";

    public const string InsertEvents = """
        INSERT INTO pyfly_event_store (event_id, aggregate_id, aggregate_type, sequence, event_type, payload, metadata, occurred_at, version)
        SELECT e.id, $2, 'Tally', e.seq, e.type, e.payload, '{}', $6, 1
        FROM unnest($1::varchar[], $3::int[], $4::varchar[], $5::text[]) AS e(id, seq, type, payload)
        """;

    public const string InsertOutbox = """
        INSERT INTO orderses_outbox (event_id, aggregate_id, sequence)
        SELECT e.id, $2, e.seq FROM unnest($1::varchar[], $3::int[]) AS e(id, seq)
        """;
}
