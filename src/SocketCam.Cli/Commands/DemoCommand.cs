using System.CommandLine;
using System.Net;
using Microsoft.Extensions.Logging;
using SocketCam.Cli.Output;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

internal static class DemoCommand
{
    public static Command Create()
    {
        var seconds = CommonOptions.Seconds("default 10", defaultSeconds: 10);
        var size = CommonOptions.Size();
        var fps = CommonOptions.Fps();
        var codec = CommonOptions.Codec();
        var quality = CommonOptions.Quality();
        var snapshot = new Option<string?>("--snapshot") { Description = "Also write the last frame to FILE (.jpg or .png); default: no file", HelpName = "FILE" };
        var json = CommonOptions.Json();
        var logLevel = CommonOptions.LogLevel();
        logLevel.DefaultValueFactory = _ => "warning";
        var window = CommandWindow.WindowOption();
        window.Description = "Show the video in a desktop window with the stats overlay, until it is closed or --seconds (if given) ends";
        var command = new Command("demo", "Hub, publisher and viewer in one process over loopback, with the built-in test pattern (no camera needed)")
        {
            seconds, size, fps, codec, quality, snapshot, json, window, logLevel,
        };
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (loggers, token) =>
        {
            // A file only when asked for: a demo run from any directory leaves nothing behind.
            string? snapshotPath = r.GetValue(snapshot);
            ViewCommand.ValidateSnapshotPath(snapshotPath);
            bool showWindow = r.GetValue(window);
            if (showWindow)
            {
                CommandWindow.RequireDisplay("demo --window", "leave out --window (the demo prints its figures; --snapshot FILE saves a frame)");
            }

            // In a window the demo runs until it is closed, unless a duration was asked for.
            double duration = showWindow && r.GetResult(seconds) is null or { Implicit: true } ? 0 : r.GetValue(seconds);
            using IFrameEncoder encoder = CodecFactory.CreateEncoder(r.GetValue(codec), CommonOptions.Jpeg(r.GetValue(quality), "420"));
            FrameSize frameSize = r.GetValue(size);
            await using IFrameSource source = new TestPatternSource(new TestPatternOptions { Width = frameSize.Width, Height = frameSize.Height, Fps = r.GetValue(fps) });
            return await RunAsync(source, encoder, duration, snapshotPath, r.GetValue(json), showWindow, loggers, token);
        }));
        return command;
    }

    private static async Task<int> RunAsync(IFrameSource source, IFrameEncoder encoder, double seconds, string? snapshot, bool json, bool showWindow, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        await using var hub = new HubServer(new HubOptions { Tcp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) } }, loggers);
        hub.Start();
        var endpoint = new StreamEndpoint("tcp", "127.0.0.1", hub.TcpEndPoint.Port);
        string duration = seconds > 0 ? $"{seconds:0.#} s" : "until the window is closed";
        await Console.Error.WriteLineAsync($"SocketCam demo: hub at {endpoint}, publisher sending {source.Description} ({CommonOptions.CodecName(encoder.Codec)}), viewer decoding; {duration} (Ctrl+C stops).");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (seconds > 0)
        {
            stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        }

        var publisher = new PublisherClient(endpoint, new ClientOptions { Agent = "socketcam demo publisher" }, source, encoder, loggers);
        using var viewer = new ViewerClient(endpoint, new ViewerOptions { Agent = "socketcam demo viewer" }, loggers);
        using CommandWindow? window = showWindow
            ? await CommandWindow.ForViewerAsync(viewer, endpoint, "demo", stats: true, "demo --window", stop, loggers)
            : null;
        Task publishing = publisher.RunAsync(stop.Token);
        Task viewing = viewer.RunAsync(stop.Token);
        Task status = new LiveStats(ViewCommand.ViewerLine(viewer.Stats), quiet: false).RunAsync(stop.Token);
        try
        {
            await Task.WhenAll(publishing, viewing);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(publishing, viewing, status).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            ViewCommand.Finish(viewer, snapshot, json, window: window);
        }

        int code = viewer.Stats.Frames > 0 ? 0 : 1;
        return window?.ExitCode(code) ?? code;
    }
}
