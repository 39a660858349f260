using SocketCam.Cli.Output;

namespace SocketCam.Tests.Cli;

/// <summary>The live status line: how it is drawn on a terminal and the rates it shows.</summary>
public sealed class LiveStatsTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Fact]
    public void The_status_line_is_cleared_to_the_end_not_padded_to_the_terminal_width()
    {
        string drawn = LiveStats.InPlace("2 room(s), 1 viewer(s)", 200);
        Assert.Equal("\r2 room(s), 1 viewer(s)\u001b[K", drawn);
        Assert.Equal("\r" + new string('x', 40) + "\u001b[K", LiveStats.InPlace(new string('x', 50), 40));
    }

    [Fact]
    public void A_rate_from_a_total_that_dips_is_zero_and_the_dip_is_not_counted_twice()
    {
        var rate = new LiveStats.CounterRate();
        Assert.Equal(1000, rate.PerSecond(1000, Second));
        // A viewer leaving the sum before its bytes reach the departed total: the total dips for one tick.
        Assert.Equal(0, rate.PerSecond(400, Second));
        // Back where it was, then 500 more: only the 500 are new.
        Assert.Equal(500, rate.PerSecond(1500, Second));
        Assert.Equal(250, rate.PerSecond(2000, TimeSpan.FromSeconds(2)));
    }
}
