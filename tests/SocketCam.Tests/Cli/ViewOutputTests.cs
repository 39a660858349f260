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
            ["frames", "fps", "bytes", "width", "height", "codec", "dropped", "latency_ms", "no_signal_events", "corrupt"],
            json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(2, json.RootElement.GetProperty("no_signal_events").GetInt64());
    }
}
