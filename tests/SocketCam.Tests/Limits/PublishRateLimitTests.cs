using System.Diagnostics;
using SocketCam.Limits;

namespace SocketCam.Tests.Limits;

public sealed class PublishRateLimitTests
{
    private static readonly long Second = Stopwatch.Frequency;

    [Fact]
    public void Without_limits_every_frame_passes()
    {
        var limit = new PublishRateLimit(new LimitOptions());
        Assert.False(limit.IsActive);
        Assert.All(Enumerable.Range(0, 1000), _ => Assert.True(limit.TryAdmit(1 << 20)));
        Assert.Equal(0, limit.Dropped);
    }

    [Fact]
    public void An_unpaced_publisher_gets_the_frame_rate_cap_and_the_rest_is_dropped()
    {
        var limit = new PublishRateLimit(new LimitOptions { MaxPublishFps = 30 });
        long t = Stopwatch.GetTimestamp();
        int admitted = 0;
        // 1000 fps for 10 s.
        for (int i = 0; i < 10_000; i++)
        {
            admitted += limit.TryAdmit(1000, t + (i * Second / 1000)) ? 1 : 0;
        }

        // 30 fps for 10 s plus the one-second burst it starts with.
        Assert.InRange(admitted, 300, 331);
        Assert.Equal(10_000 - admitted, limit.Dropped);
    }

    [Fact]
    public void A_publisher_under_the_cap_loses_nothing()
    {
        var limit = new PublishRateLimit(new LimitOptions { MaxPublishFps = 30, MaxPublishBitrate = 8e6 });
        long t = Stopwatch.GetTimestamp();
        for (int i = 0; i < 600; i++)
        {
            // 29 fps of 30 KB frames = 7 Mbit/s.
            Assert.True(limit.TryAdmit(30_000, t + (i * Second / 29)), $"frame {i} dropped");
        }
    }

    [Fact]
    public void The_bitrate_cap_holds_over_time()
    {
        var limit = new PublishRateLimit(new LimitOptions { MaxPublishBitrate = 8e6 }); // 1 MB/s
        long t = Stopwatch.GetTimestamp();
        long bytes = 0;
        for (int i = 0; i < 1000; i++)
        {
            // 100 fps of 100 KB = 10 MB/s offered for 10 s.
            if (limit.TryAdmit(100_000, t + (i * Second / 100)))
            {
                bytes += 100_000;
            }
        }

        // 1 MB/s for 10 s plus the 2-second burst.
        Assert.InRange(bytes, 10_000_000, 12_100_000);
    }

    [Fact]
    public void A_frame_bigger_than_the_bitrate_bucket_still_goes_at_the_capped_rate()
    {
        var limit = new PublishRateLimit(new LimitOptions { MaxPublishBitrate = 1e6 }); // 125 KB/s, a 250 KB bucket
        long t = Stopwatch.GetTimestamp();
        int admitted = 0;
        for (int i = 0; i < 300; i++)
        {
            // 30 fps of 300 KB frames (72 Mbit/s offered) for 10 s.
            admitted += limit.TryAdmit(300_000, t + (i * Second / 30)) ? 1 : 0;
        }

        // About 125 KB/s / 300 KB = 0.42 frames a second, never none, never more than the cap allows.
        Assert.InRange(admitted, 3, 6);
    }
}
