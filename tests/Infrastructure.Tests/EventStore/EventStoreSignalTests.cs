using OrdersEs.Infrastructure.EventStore;
using Xunit;

namespace OrdersEs.Infrastructure.Tests.EventStore;

public class EventStoreSignalTests
{
    [Fact]
    public async Task A_notification_between_taking_it_and_waiting_is_not_lost()
    {
        var signal = new EventStoreSignal();
        var next = signal.NextNotification;
        signal.NotifyAppended(); // lands while the waiter is still looking for work
        Assert.True(await EventStoreSignal.WaitAsync(next, TimeSpan.FromSeconds(10), TimeProvider.System, default));
    }

    [Fact]
    public async Task A_wait_without_notification_times_out_false()
    {
        var signal = new EventStoreSignal();
        Assert.False(await EventStoreSignal.WaitAsync(signal.NextNotification, TimeSpan.FromMilliseconds(50), TimeProvider.System, default));
    }

    [Fact]
    public async Task A_local_append_completes_the_next_local_append_but_a_remote_notification_does_not()
    {
        var signal = new EventStoreSignal();
        var local = signal.NextLocalAppend;
        signal.Notify();
        Assert.False(local.IsCompleted);
        signal.NotifyAppended();
        await local.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
