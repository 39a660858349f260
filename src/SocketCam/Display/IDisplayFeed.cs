using SocketCam.Media;

namespace SocketCam.Display;

/// <summary>
/// Where a <see cref="VideoWindow"/> gets its pictures. Producers (a receive loop, a room's fan-out) hand over pictures
/// without ever waiting for the window; the window takes only the newest one each time it draws.
/// </summary>
internal interface IDisplayFeed
{
    /// <summary>
    /// Pictures replaced by a newer one before the window took them (the window was slower than the stream, or hidden).
    /// Safe to read from any thread.
    /// </summary>
    long Replaced { get; }

    /// <summary>Why there is no signal (possibly empty), or null while live. Safe to read from any thread.</summary>
    string? SignalReason { get; }

    /// <summary>
    /// Sets what the feed calls, from the producer's thread, when a new picture or a signal change is there. Set once,
    /// by the window, before it starts taking pictures. The callback never blocks.
    /// </summary>
    void SetWake(Action wake);

    /// <summary>
    /// Render thread only: the newest picture not taken yet (BGR24, <see cref="VideoFrame.CaptureMicros"/> on this
    /// process's clock), or null. It stays valid, and unchanged, until the next call.
    /// </summary>
    VideoFrame? TakeNewest();

    /// <summary>
    /// Render thread only, while the window is hidden or minimized: takes the newest picture like <see cref="TakeNewest"/>
    /// but does nothing with it (an encoded feed does not decode it). True when there was one (the window counts it as
    /// dropped).
    /// </summary>
    bool Skip();
}
