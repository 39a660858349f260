namespace SocketCam.Display;

/// <summary>Settings of a <see cref="CallGridWindow"/>.</summary>
internal sealed record CallGridOptions
{
    /// <summary>Window title; default "SocketCam call".</summary>
    public string Title { get; init; } = "SocketCam call";

    /// <summary>The room's name, for the empty window's "Waiting for others to join ROOM"; default "main".</summary>
    public string Room { get; init; } = "main";

    /// <summary>Size the window opens at (scaled down to 90% of the screen if larger); default 1280x720. The user can resize it.</summary>
    public int InitialWidth { get; init; } = 1280;

    /// <inheritdoc cref="InitialWidth"/>
    public int InitialHeight { get; init; } = 720;

    /// <summary>
    /// Longest wait for an event or a picture before the render loop looks around anyway (stop requests); default 100 ms.
    /// New pictures, tile changes and key presses wake it at once.
    /// </summary>
    public TimeSpan EventTimeout { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>What the program calls this window in errors; default "call".</summary>
    public string Feature { get; init; } = "call";

    /// <summary>What to do instead when no window can be opened, for error messages; default "use view --snapshot FILE.jpg instead".</summary>
    public string Alternative { get; init; } = "use view --snapshot FILE.jpg instead";
}
