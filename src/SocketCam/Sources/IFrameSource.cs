using SocketCam.Media;

namespace SocketCam.Sources;

/// <summary>
/// Produces frames. A source hands out one frame at a time: the caller disposes it before asking for the next.
/// </summary>
internal interface IFrameSource : IAsyncDisposable
{
    /// <summary>A short description for logs and the console ("test pattern 1280x720 @ 30 fps").</summary>
    string Description { get; }

    int Width { get; }

    int Height { get; }

    /// <summary>Frames per second the source is paced to; 0 means unpaced (as fast as it is asked).</summary>
    double Fps { get; }

    /// <summary>Waits until the next frame is due and returns it, or null when the source has ended.</summary>
    ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken);
}
