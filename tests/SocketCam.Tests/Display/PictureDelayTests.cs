using SocketCam.Diagnostics;
using SocketCam.Display;
using SocketCam.Media;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Display;

/// <summary>
/// Lip sync's hold for the window: pictures reach the mailbox no earlier than they are due, in order, and none is lost
/// while fewer than 8 wait; a picture already due and with nothing before it goes straight through.
/// </summary>
public sealed class PictureDelayTests
{
    [Fact]
    public async Task Held_pictures_reach_the_mailbox_in_order_when_due_and_none_is_lost()
    {
        using var mailbox = new PictureMailbox();
        var arrivals = new List<(long Sequence, long At)>();
        mailbox.SetWake(() =>
        {
            lock (arrivals)
            {
                if (mailbox.TakeNewest() is { } p)
                {
                    arrivals.Add((p.Sequence, Clock.NowMicros()));
                }
            }
        });
        using var delay = new PictureDelay(mailbox);
        using VideoFrame picture = VideoFrame.Rent(16, 8);
        var due = new Dictionary<long, long>();
        for (int i = 0; i < 10; i++)
        {
            // 30 fps, each held 100 ms: three or four wait at any moment.
            picture.Sequence = i;
            long at = Clock.NowMicros() + 100_000;
            due[i] = at;
            delay.Show(picture, at - 100_000, at);
            await Task.Delay(33);
        }

        await Eventually.UntilAsync(() => { lock (arrivals) { return arrivals.Count == 10; } }, "all ten pictures shown");
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), arrivals.Select(a => a.Sequence));
        Assert.All(arrivals, a => Assert.True(a.At >= due[a.Sequence] - 500, $"picture {a.Sequence} shown {(due[a.Sequence] - a.At) / 1000.0:0.0} ms early"));
        Assert.Equal(0, delay.Waiting);

        // Due now with nothing waiting: at once, no copy kept.
        picture.Sequence = 99;
        delay.Show(picture, Clock.NowMicros(), Clock.NowMicros());
        lock (arrivals)
        {
            Assert.Equal(99, arrivals[^1].Sequence);
        }
    }

    [Fact]
    public void When_eight_wait_the_oldest_goes_on_early_rather_than_being_lost()
    {
        using var mailbox = new PictureMailbox();
        var shown = new List<long>();
        mailbox.SetWake(() =>
        {
            if (mailbox.TakeNewest() is { } p)
            {
                shown.Add(p.Sequence);
            }
        });
        using var delay = new PictureDelay(mailbox);
        using VideoFrame picture = VideoFrame.Rent(16, 8);
        long later = Clock.NowMicros() + 10_000_000;
        for (int i = 0; i < 10; i++)
        {
            picture.Sequence = i;
            delay.Show(picture, 0, later);
        }

        Assert.Equal([0L, 1L], shown);
        Assert.Equal(8, delay.Waiting);
    }
}
