using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Diagnostics;
using SocketCam.Display.Sdl;
using SocketCam.Media;

namespace SocketCam.Display;

/// <summary>
/// A desktop window showing the newest picture of an <see cref="IDisplayFeed"/>, scaled to fit with its aspect ratio kept.
/// Everything SDL does happens on one render thread of its own, which waits for events with a timeout (so the window keeps
/// responding while the stream stalls) and is woken, through a <see cref="WindowWaker"/>, when a picture arrives. Producers
/// never wait for it, not even for the X server: a slow or minimized window only makes the feed drop pictures. 'q', Esc,
/// Enter and the close button close the window and cancel <see cref="Closed"/>; the owner then stops it (<see cref="Stop"/>
/// or <see cref="Dispose"/>), which joins the render thread.
/// </summary>
internal sealed class VideoWindow : IDisposable, IWindowScene
{
    private readonly IDisplayFeed _feed;
    private readonly VideoWindowOptions _options;
    private readonly ILogger _logger;
    private readonly WindowThread _thread;
    private readonly List<SdlRect> _boxes = [];
    private readonly List<SdlRect> _text = [];
    private bool _stopped;

    // Render thread only.
    private bool _redraw;
    private bool _sizedToPicture;
    private bool _drawFailed;
    private long _shownCaptureMicros;
    private long _nextOverlayTicks;
    private long _overlayStartTicks;
    private string[] _overlayLines = [];
    private long _overlayShown;
    private double _overlayLatencySum;
    private long _overlayLatencyCount;
    private string? _signalShown;

    private VideoWindow(IDisplayFeed feed, VideoWindowOptions options, ILogger logger)
    {
        _feed = feed;
        _options = options;
        _logger = logger;
        Stats = new DisplayStats(() => feed.Replaced);
        _thread = new WindowThread(
            new WindowThreadOptions(options.Title, options.InitialWidth, options.InitialHeight, options.EventTimeout, options.Alternative, "SocketCam window"),
            this,
            logger);
    }

    public DisplayStats Stats { get; }

    /// <summary>Cancelled when the user closed the window (a key or the close button), or when the render thread failed (<see cref="Failure"/>).</summary>
    public CancellationToken Closed => _thread.Closed;

    /// <summary>How the user closed the window ("q", "Esc", "Enter", "the close button"), or null.</summary>
    public string? ClosedBy => _thread.ClosedBy;

    /// <summary>The render thread's unexpected failure (a bug), once it has stopped; null when it ended normally.</summary>
    public Exception? Failure => _thread.Failure;

    /// <summary>
    /// Checks that there is a display and SDL2, then opens the window on its own thread and returns once it is up.
    /// Throws <see cref="UserFacingException"/> (no display, SDL cannot open a window) or <see cref="NativeDependencyException"/>
    /// (SDL2 is not installed): one line for the user. <paramref name="cancellationToken"/> abandons the wait (SDL_Init can
    /// block on a display that accepts the connection but never answers): the thread is then told to stop and left behind
    /// if it does not, having used nothing of the feed.
    /// </summary>
    public static async Task<VideoWindow> OpenAsync(IDisplayFeed feed, VideoWindowOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(feed);
        ArgumentNullException.ThrowIfNull(options);
        DisplayEnvironment.Require(options.Feature, options.Alternative);
        cancellationToken.ThrowIfCancellationRequested();
        var window = new VideoWindow(feed, options, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SocketCam.Display"));
        feed.SetWake(window._thread.Wake);
        window.Stats.Renderer = await window._thread.StartAsync(cancellationToken);
        return window;
    }

    /// <summary>Stops the render thread (closing the window if still open) and waits for it. Rethrows nothing: see <see cref="Failure"/>.</summary>
    public void Dispose() => Stop();

    /// <summary>
    /// Stops the render thread (closing the window if still open) and waits for it, at most 10 s. False when it did not stop
    /// in time (an X server that stopped answering): it is left behind (a background thread: it does not hold up the
    /// program's exit) and may still use the feed, which the owner must then not free. Calling it again waits again.
    /// Rethrows nothing: see <see cref="Failure"/>.
    /// </summary>
    public bool Stop()
    {
        if (!_thread.Stop(WindowThread.JoinLimit))
        {
            return false;
        }

        if (!_stopped)
        {
            _stopped = true;
            if (Stats.FramesShown > 0 && _logger.IsEnabled(LogLevel.Debug))
            {
                LatencySummary latency = Stats.Latency;
                DisplayLog.Summary(_logger, Stats.FramesShown, Stats.Fps, Stats.Dropped, latency.P50, latency.P99);
            }
        }

        return true;
    }

    void IWindowScene.Opened(SdlWindow window)
    {
    }

    void IWindowScene.Closing()
    {
        // The picture's texture belongs to the SdlWindow, which frees it.
    }

    void IWindowScene.Render(SdlWindow window, bool invalidated, bool hidden)
    {
        _redraw |= invalidated;
        bool newPicture = false;
        if (hidden)
        {
            // Nothing drawn is seen: take the picture without decoding or uploading it (an encoded feed's room still
            // hears that it was taken), and count it as dropped.
            if (_feed.Skip())
            {
                Stats.OnNotShown();
            }
        }
        else if (_feed.TakeNewest() is { } picture && Upload(window, picture))
        {
            newPicture = true;
            _redraw = true;
        }

        if (!ReferenceEquals(_feed.SignalReason, _signalShown))
        {
            _signalShown = _feed.SignalReason;
            _redraw = true;
        }

        long now = Stopwatch.GetTimestamp();
        if (_options.ShowStats && now >= _nextOverlayTicks)
        {
            UpdateOverlayFigures(now, window);
            _redraw = true;
        }

        if (!_redraw || hidden)
        {
            return;
        }

        Draw(window);
        window.Present();
        _redraw = false;
        if (newPicture)
        {
            // Presented time minus capture time (both on this process's clock: the feed moved the capture time here).
            double latencyMs = (Clock.NowMicros() - _shownCaptureMicros) / 1000.0;
            Stats.OnShown(latencyMs);
            _overlayShown++;
            _overlayLatencySum += latencyMs;
            _overlayLatencyCount++;
        }
    }

    private bool Upload(SdlWindow window, VideoFrame picture)
    {
        if (!window.Upload(picture, out bool created, out string? error))
        {
            ReportDrawFailure(error!);
            return false;
        }

        if (created)
        {
            DisplayLog.TextureCreated(_logger, picture.Width, picture.Height);
        }

        if (!_sizedToPicture)
        {
            // Like cv2.imshow: the first picture sets the window's size; after that the user's size is kept.
            _sizedToPicture = true;
            window.SizeToPicture(picture.Width, picture.Height);
        }

        _shownCaptureMicros = picture.CaptureMicros;
        return true;
    }

    private void Draw(SdlWindow window)
    {
        (int width, int height) = window.OutputSize();
        PixelRect picture = window.HasPicture ? Letterbox.Fit(window.PictureWidth, window.PictureHeight, width, height) : default;
        _boxes.Clear();
        _text.Clear();
        int scale = height >= 400 ? 2 : 1;
        if (_options.ShowStats && _overlayLines.Length > 0 && window.HasPicture)
        {
            AddTextBlock(_overlayLines, picture.X + (4 * scale), picture.Y + (4 * scale), scale);
        }

        string? message = _signalShown is { } reason ? (reason.Length == 0 ? "NO SIGNAL" : "NO SIGNAL: " + reason)
            : window.HasPicture ? null
            : "WAITING FOR VIDEO...";
        if (message is not null)
        {
            int maxChars = Math.Max(1, (width - (8 * scale)) / (OverlayFont.Advance * scale));
            string line = message.Length > maxChars ? message[..maxChars] : message;
            int x = Math.Max(0, (width - OverlayFont.TextWidth(line.Length, scale)) / 2);
            AddTextBlock([line], x, Math.Max(0, (height / 2) - (OverlayFont.GlyphHeight * scale)), scale);
        }

        if (window.Draw(picture, _boxes, _text) is { } error)
        {
            ReportDrawFailure(error);
        }
    }

    private void AddTextBlock(string[] lines, int x, int y, int scale)
    {
        int lineHeight = (OverlayFont.GlyphHeight + 3) * scale;
        int longest = lines.Max(l => l.Length);
        int pad = 3 * scale;
        _boxes.Add(new SdlRect(x, y, OverlayFont.TextWidth(longest, scale) + (2 * pad), (lines.Length * lineHeight) + (2 * pad) - (3 * scale)));
        for (int i = 0; i < lines.Length; i++)
        {
            OverlayFont.AppendText(_text, lines[i], x + pad, y + pad + (i * lineHeight), scale);
        }
    }

    private void UpdateOverlayFigures(long now, SdlWindow window)
    {
        double seconds = _overlayStartTicks == 0 ? 0 : Stopwatch.GetElapsedTime(_overlayStartTicks, now).TotalSeconds;
        string size = window.HasPicture ? string.Create(CultureInfo.InvariantCulture, $"{window.PictureWidth}X{window.PictureHeight}  ") : "";
        string fps = seconds > 0 ? string.Create(CultureInfo.InvariantCulture, $"{_overlayShown / seconds:0.0} FPS") : "- FPS";
        string latency = _overlayLatencyCount > 0
            ? string.Create(CultureInfo.InvariantCulture, $"LATENCY {_overlayLatencySum / _overlayLatencyCount:0} MS")
            : "LATENCY -";
        string drops = string.Create(CultureInfo.InvariantCulture, $"DROPPED {Stats.Dropped} WINDOW");
        if (_options.UpstreamDropped is { } upstream)
        {
            drops += string.Create(CultureInfo.InvariantCulture, $" {upstream()} NETWORK");
        }

        _overlayLines = [size + fps, latency, drops];
        _overlayShown = 0;
        _overlayLatencySum = 0;
        _overlayLatencyCount = 0;
        _overlayStartTicks = now;
        _nextOverlayTicks = now + (long)(_options.OverlayInterval.TotalSeconds * Stopwatch.Frequency);
    }

    private void ReportDrawFailure(string error)
    {
        if (!_drawFailed)
        {
            _drawFailed = true;
            DisplayLog.DrawFailed(_logger, error);
        }
    }
}
