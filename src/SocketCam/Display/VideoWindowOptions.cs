namespace SocketCam.Display;

/// <summary>Settings of a <see cref="VideoWindow"/>.</summary>
internal sealed record VideoWindowOptions
{
    /// <summary>Window title; default "SocketCam".</summary>
    public string Title { get; init; } = "SocketCam";

    /// <summary>Draw the statistics overlay (fps shown, latency, drops); default false.</summary>
    public bool ShowStats { get; init; }

    /// <summary>
    /// Size before the first picture arrives; default 640x360. The window then takes the picture's size once (scaled down
    /// to fit the screen), and the user can resize it freely afterwards.
    /// </summary>
    public int InitialWidth { get; init; } = 640;

    /// <inheritdoc cref="InitialWidth"/>
    public int InitialHeight { get; init; } = 360;

    /// <summary>
    /// Longest wait for an event or a picture before the render loop looks around anyway (stop requests, overlay refresh);
    /// default 100 ms. New pictures and key presses wake it at once.
    /// </summary>
    public TimeSpan EventTimeout { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often the overlay's figures are recomputed; default 500 ms.</summary>
    public TimeSpan OverlayInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Frames lost before the feed (the hub's skips for this viewer), shown in the overlay; default none.</summary>
    public Func<long>? UpstreamDropped { get; init; }

    /// <summary>What the program calls this window in errors (e.g. "view --window"); default "the window".</summary>
    public string Feature { get; init; } = "the window";

    /// <summary>What to do instead when no window can be opened, for error messages; default "use --snapshot FILE.jpg instead".</summary>
    public string Alternative { get; init; } = "use --snapshot FILE.jpg instead";
}
