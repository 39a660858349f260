using System.Text.Json;
using SocketCam.Cli.Commands;
using SocketCam.Cli.Output;
using SocketCam.Client;

namespace SocketCam.Tests.Cli;

/// <summary>What `view` prints about the signal state: the live status line and the --json summary.</summary>
public sealed class ViewOutputTests
{
    private const string Reason = "ffmpeg exited with code 1: /dev/video0: No such device";
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    [Fact]
    public void Status_line_says_no_signal_and_why_while_the_source_is_down()
    {
        var stats = new ViewerStats();
        Func<TimeSpan, string> line = ViewCommand.ViewerLine(stats);
        Assert.Equal("waiting for frames...", line(Interval));

        stats.OnSignal(false, Reason);
        Assert.Equal("NO SIGNAL: " + Reason, line(Interval));
        stats.OnSignal(false, "");
        Assert.Equal("NO SIGNAL", line(Interval));

        stats.OnSignal(true, "");
        Assert.Equal("waiting for frames...", line(Interval));
    }

    [Fact]
    public void View_json_keeps_its_keys_and_adds_no_signal_events_at_the_end()
    {
        var stats = new ViewerStats();
        stats.OnSignal(false, "x");
        stats.OnSignal(true, "");
        stats.OnSignal(false, "y");
        stats.OnSignal(false, "z"); // a new reason, not a new loss

        using JsonDocument json = JsonDocument.Parse(JsonSummary.Viewer(stats));

        Assert.Equal(
            ["frames", "fps", "bytes", "width", "height", "codec", "dropped", "latency_ms", "no_signal_events", "corrupt", "freeze_ms", "freezes", "longest_freeze_ms", "shown_pct", "waiting_for_keyframe"],
            json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(2, json.RootElement.GetProperty("no_signal_events").GetInt64());
    }

    [Fact]
    public void Freezes_are_the_pauses_over_100_ms_between_shown_frames_and_the_share_counts_by_sequence()
    {
        var stats = new ViewerStats();
        stats.OnFrame(64, 48, global::SocketCam.Media.CodecId.H264, 100, 0, null, sequence: 10);
        stats.OnFrame(64, 48, global::SocketCam.Media.CodecId.H264, 100, 0, null, sequence: 11);
        Thread.Sleep(150);
        stats.OnFrame(64, 48, global::SocketCam.Media.CodecId.H264, 100, 0, null, sequence: 19);

        Assert.Equal(1, stats.Freezes);
        Assert.InRange(stats.FreezeTime.TotalMilliseconds, 140, 2000);
        Assert.Equal(stats.FreezeTime, stats.LongestFreeze);
        Assert.Equal(10, stats.SequenceSpan);
    }
}
