using System.Data.Common;

namespace OrdersEs.Infrastructure.EventStore;

/// <summary>
/// A write that must commit with an append or not at all, such as the stored answer of an idempotency key. A
/// database-backed store runs it inside the append's transaction, before the events; throwing rolls the append
/// back. A store without transactions (memory) does not run it and leaves <see cref="Written"/> false, so the
/// caller writes it afterwards.
/// </summary>
public interface IAppendParticipant
{
    /// <summary>True once the write ran inside an append's transaction (it commits if the append returns).</summary>
    bool Written { get; }

    Task WriteAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken);
}
