using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using SocketCam.Cli.Output;
using SocketCam.Client;
using SocketCam.Media;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

internal static class ViewCommand
{
    public static Command Create()
    {
        var url = new Argument<string>("url") { Description = "The hub, e.g. tcp://192.168.1.5:9999" };
        var room = CommonOptions.Room();
        var token = CommonOptions.Token();
        var frames = new Option<long>("--frames", "-n") { Description = "Stop after this many frames" };
        var seconds = CommonOptions.Seconds("default: run until Ctrl+C");
        var snapshot = new Option<string?>("--snapshot") { Description = "Write the last frame to FILE.jpg or FILE.png when done" };
        var json = CommonOptions.Json();
        var noReconnect = new Option<bool>("--no-reconnect") { Description = "Exit when the server goes away instead of reconnecting" };
        var quiet = new Option<bool>("--quiet") { Description = "No live status line" };
        var logLevel = CommonOptions.LogLevel();
        var command = new Command("view", "Watch a room: decode frames and show live fps, latency, bitrate and skipped frames")
        {
            url, room, token, frames, seconds, snapshot, json, noReconnect, quiet, logLevel,
        };
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, (loggers, token2) =>
        {
            var options = new ViewerOptions
            {
                Room = r.GetValue(room)!,
                Token = r.GetValue(token),
                Reconnect = !r.GetValue(noReconnect),
                Agent = "socketcam view",
            };
            string? snapshotPath = r.GetValue(snapshot);
            ValidateSnapshotPath(snapshotPath);
            return RunAsync(StreamEndpoint.Parse(r.GetValue(url)!), options, r.GetValue(frames), r.GetValue(seconds), snapshotPath, r.GetValue(json), r.GetValue(quiet), loggers, token2);
        }));
        return command;
    }

    public static void ValidateSnapshotPath(string? path)
    {
        if (path is not null && Path.GetExtension(path).ToLowerInvariant() is not (".jpg" or ".jpeg" or ".png"))
        {
            throw new ArgumentException($"--snapshot '{path}': the file name must end in .jpg, .jpeg or .png.");
        }
    }

    private static async Task<int> RunAsync(StreamEndpoint endpoint, ViewerOptions options, long maxFrames, double seconds, string? snapshot, bool json, bool quiet, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (seconds > 0)
        {
            stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        }

        using var viewer = new ViewerClient(endpoint, options, loggers);
        if (maxFrames > 0)
        {
            viewer.FrameDecoded = _ =>
            {
                if (viewer.Stats.Frames >= maxFrames)
                {
                    stop.Cancel();
                }
            };
        }

        Task status = new LiveStats(ViewerLine(viewer.Stats), quiet).RunAsync(stop.Token);
        try
        {
            await viewer.RunAsync(stop.Token);
        }
        finally
        {
            await stop.CancelAsync();
            await status;
            Finish(viewer, snapshot, json);
        }

        return viewer.Stats.Frames > 0 ? 0 : 1;
    }

    /// <summary>Writes the snapshot and the JSON summary; shared by view and demo.</summary>
    public static void Finish(ViewerClient viewer, string? snapshot, bool json)
    {
        ViewerStats s = viewer.Stats;
        if (snapshot is not null)
        {
            if (viewer.LastPicture is { } picture)
            {
                SnapshotWriter.Save(picture, snapshot);
                Console.Error.WriteLine($"Snapshot of frame {picture.Sequence} ({picture.Width}x{picture.Height}) written to {snapshot}");
            }
            else
            {
                Console.Error.WriteLine("No frame was received: no snapshot written.");
            }
        }

        LatencySummaryLine(s);
        if (json)
        {
            Console.Out.WriteLine(JsonSummary.Viewer(s));
            Console.Out.Flush();
        }
    }

    private static void LatencySummaryLine(ViewerStats s)
    {
        var l = s.Latency;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{s.Frames} frames, {s.Fps:0.0} fps, {s.Width}x{s.Height}, {s.Bytes / 1e6:0.0} MB, skipped {s.Dropped}, latency p50 {l.P50:0.0} ms p99 {l.P99:0.0} ms max {l.Max:0.0} ms"));
    }

    public static Func<TimeSpan, string> ViewerLine(ViewerStats stats)
    {
        long lastFrames = 0;
        long lastBytes = 0;
        return interval =>
        {
            long frames = stats.Frames;
            long bytes = stats.Bytes;
            var l = stats.Latency;
            // While the source is down the hub sends no frames: say why instead of showing a frame rate of 0.
            string line = stats.SignalReason is { } reason ? NoSignalLine(reason)
                : frames == 0 ? "waiting for frames..."
                : string.Create(CultureInfo.InvariantCulture,
                    $"{stats.Width}x{stats.Height} {(frames - lastFrames) / interval.TotalSeconds,5:0.0} fps  {LiveStats.Rate((bytes - lastBytes) / interval.TotalSeconds)}  latency p50 {l.P50:0.0} ms p99 {l.P99:0.0} ms  skipped {stats.Dropped}  rtt {stats.RttMilliseconds:0.00} ms  frames {frames}");
            lastFrames = frames;
            lastBytes = bytes;
            return line;
        };
    }

    private static string NoSignalLine(string reason) => reason.Length == 0 ? "NO SIGNAL" : "NO SIGNAL: " + reason;
}
