using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using SocketCam.Client;
using SocketCam.Display;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Transport;

namespace SocketCam.Cli.Commands;

/// <summary>The desktop window of view, demo, serve --preview and publish --preview: open it, stop the command when it closes.</summary>
internal sealed class CommandWindow : IDisposable
{
    private readonly VideoWindow _window;
    private readonly IDisposable _feed;
    private readonly Action? _detach;
    private readonly ILogger _logger;
    private readonly CancellationTokenRegistration _onClose;

    private CommandWindow(VideoWindow window, IDisposable feed, Action? detach, CancellationTokenSource stop, ILoggerFactory loggers)
    {
        _window = window;
        _feed = feed;
        _detach = detach;
        _logger = loggers.CreateLogger("SocketCam.Display");
        // Closing the window ends the command like Ctrl+C would, so it exits cleanly with code 0.
        _onClose = window.Closed.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), stop);
    }

    public DisplayStats Stats => _window.Stats;

    /// <summary>The user closed the window (a key or the close button).</summary>
    public bool ClosedByUser => _window.ClosedBy is not null;

    public static Option<bool> WindowOption() => new("--window")
    {
        Description = "Show the video in a desktop window (needs a display and SDL2); f: fullscreen; q, Esc, Enter: close",
    };

    public static Option<bool> StatsOption() => new("--stats")
    {
        Description = "Draw fps, latency (display time minus capture time) and skipped frames over the video in the window",
    };

    public static Option<bool> PreviewOption() => new("--preview")
    {
        Description = "Show what is being sent in a local preview window (needs a display and SDL2); closing it stops the command",
    };

    /// <summary>Checked before anything starts, so a missing display or SDL2 is one line and nothing is left half-started.</summary>
    public static void RequireDisplay(string feature, string alternative) => DisplayEnvironment.Require(feature, alternative);

    /// <summary>A window for a viewer's decoded pictures (view --window, demo --window).</summary>
    public static async Task<CommandWindow> ForViewerAsync(ViewerClient viewer, StreamEndpoint endpoint, string room, bool stats, string feature, CancellationTokenSource stop, ILoggerFactory loggers)
    {
        var mailbox = new PictureMailbox();
        try
        {
            var options = new VideoWindowOptions
            {
                Title = endpoint.IsUnix ? $"SocketCam — {room} @ {endpoint}" : $"SocketCam — {room} @ {endpoint.Host}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}",
                ShowStats = stats,
                UpstreamDropped = () => viewer.Stats.Dropped,
                Feature = feature,
                Alternative = "use --snapshot FILE.jpg to save a frame instead",
            };
            VideoWindow window = await VideoWindow.OpenAsync(mailbox, options, loggers, stop.Token);
            // With sound, pictures wait for it (lip sync): held until their capture time plus the sound's delay.
            PictureDelay? delay = viewer.SoundDelayMicros is null ? null : new PictureDelay(mailbox);
            ViewerDisplay.Connect(viewer, mailbox, delay);
            return new CommandWindow(window, mailbox, delay is null ? null : delay.Dispose, stop, loggers);
        }
        catch
        {
            mailbox.Dispose();
            throw;
        }
    }

    /// <summary>serve --preview: a viewer of the room inside the hub, decoding only the newest frame at the window's rate.</summary>
    public static async Task<CommandWindow> ForRoomAsync(HubServer hub, string roomName, CancellationTokenSource stop, ILoggerFactory loggers)
    {
        Room room = hub.GetOrCreateRoom(roomName);
        // Joining the room hooks the feed's slot, so its takes tell the room like any viewer's (unpaced capture waits for
        // them once every viewer has a frame pending, and the preview may be the only viewer).
        var feed = new EncodedFrameFeed();
        VideoWindow? window = null;
        bool watching = false;
        try
        {
            window = await VideoWindow.OpenAsync(feed, PreviewOptions($"SocketCam — transmitting '{roomName}' (preview)", "serve --preview"), loggers, stop.Token);
            room.AddViewer(feed);
            watching = true;
            return new CommandWindow(window, feed, () =>
            {
                room.RemoveViewer(feed);
                hub.LeaveRoom(room);
            }, stop, loggers);
        }
        catch
        {
            // The window first: its thread uses the feed until it has stopped.
            bool stopped = window?.Stop() ?? true;
            if (watching)
            {
                room.RemoveViewer(feed);
            }

            hub.LeaveRoom(room);
            if (stopped)
            {
                feed.Dispose();
            }

            throw;
        }
    }

    /// <summary>publish --preview: the publisher's encoded frames, decoded (newest only) at the window's rate.</summary>
    public static async Task<CommandWindow> ForPublisherAsync(PublisherClient publisher, string roomName, CancellationTokenSource stop, ILoggerFactory loggers)
    {
        var feed = new EncodedFrameFeed();
        try
        {
            VideoWindow window = await VideoWindow.OpenAsync(feed, PreviewOptions($"SocketCam — publishing '{roomName}' (preview)", "publish --preview"), loggers, stop.Token);
            publisher.FrameEncoded = feed.Offer;
            return new CommandWindow(window, feed, () => publisher.FrameEncoded = null, stop, loggers);
        }
        catch
        {
            feed.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Closes the window (joining its thread) and detaches its feed; call once the producer has stopped. When the render
    /// thread does not stop (an X server that stopped answering), the feed is detached but deliberately not freed: the
    /// thread may still be decoding into its buffers or reading them. The process is about to exit anyway.
    /// </summary>
    public void Dispose()
    {
        _onClose.Dispose();
        bool stopped = _window.Stop();
        _detach?.Invoke(); // thread-safe either way: it only unhooks the feed from its producer
        if (stopped)
        {
            _feed.Dispose();
        }
        else
        {
            DisplayLog.FeedLeftBehind(_logger);
        }
    }

    /// <summary>
    /// The exit code once the command has stopped: 1 when the window's render thread failed (logged with its trace),
    /// 0 when the user closed the window, otherwise <paramref name="otherwise"/>.
    /// </summary>
    public int ExitCode(int otherwise) => _window.Failure is not null ? 1 : ClosedByUser ? 0 : otherwise;

    /// <summary>One stderr line after the run: what the window showed.</summary>
    public string SummaryLine()
    {
        DisplayStats s = Stats;
        var l = s.Latency;
        return string.Create(CultureInfo.InvariantCulture,
            $"window ({s.Renderer}): {s.FramesShown} frames shown, {s.Fps:0.0} fps, dropped {s.Dropped}, display latency p50 {l.P50:0.0} ms p99 {l.P99:0.0} ms");
    }

    private static VideoWindowOptions PreviewOptions(string title, string feature) => new()
    {
        Title = title,
        Feature = feature,
        Alternative = "leave out --preview (watch with `socketcam view` elsewhere)",
    };
}
