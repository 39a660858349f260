using SocketCam.Display;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Display;

/// <summary>
/// The window's waker: producers (a receive loop, a room's fan-out under its lock) only set a flag, and the call that can
/// block on the X server (SDL_PushEvent) runs on the waker's own thread.
/// </summary>
public sealed class WindowWakerTests
{
    [Fact]
    public async Task A_push_that_blocks_never_holds_up_the_producers_and_wakes_are_coalesced()
    {
        using var gate = new ManualResetEventSlim(false);
        using var firstPush = new ManualResetEventSlim(false);
        int pushes = 0;
        var waker = new WindowWaker(
            () =>
            {
                Interlocked.Increment(ref pushes);
                firstPush.Set();
                gate.Wait(); // an X server that stopped answering
            },
            "test waker");
        waker.Start();
        try
        {
            waker.Wake();
            Assert.True(firstPush.Wait(TestHub.Timeout), "the waker did not push");

            // The push is stuck: producers still return at once (were they pushing themselves, this would never end).
            await Task.Run(() =>
            {
                for (int i = 0; i < 10_000; i++)
                {
                    waker.Wake();
                }
            }).WaitAsync(TestHub.Timeout);

            // Not rearmed by the render thread: all those wakes were the one already on its way.
            gate.Set();
            waker.Rearm();
            waker.Wake();
            await Eventually.UntilAsync(() => Volatile.Read(ref pushes) == 2, "a second push after the render thread rearmed");
        }
        finally
        {
            gate.Set();
            Assert.True(waker.Stop(TestHub.Timeout), "the waker's thread did not end");
        }

        Assert.Equal(2, pushes);
    }

    [Fact]
    public void A_waker_stuck_in_a_push_is_reported_not_waited_for_forever()
    {
        using var gate = new ManualResetEventSlim(false);
        using var pushing = new ManualResetEventSlim(false);
        var waker = new WindowWaker(
            () =>
            {
                pushing.Set();
                gate.Wait();
            },
            "test waker");
        waker.Start();
        waker.Wake();
        Assert.True(pushing.Wait(TestHub.Timeout), "the waker did not push");

        Assert.False(waker.Stop(TimeSpan.Zero));
        gate.Set();
        Assert.True(waker.Stop(TestHub.Timeout));
    }

    [Fact]
    public void A_waker_that_never_started_stops_at_once()
    {
        var waker = new WindowWaker(() => throw new InvalidOperationException("never called"), "test waker");
        Assert.True(waker.Stop(TimeSpan.Zero));
    }
}
