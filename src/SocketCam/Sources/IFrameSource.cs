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

/// <summary>
/// A source that can hand out frames already encoded (a camera's own MJPEG or H.264, a still JPEG, an H.264 file), so
/// they are sent without decoding or re-encoding. <see cref="IFrameSource.ReadFrameAsync"/> still works for JPEG (it
/// decodes).
/// </summary>
internal interface IEncodedFrameSource : IFrameSource
{
    /// <summary>The codec <see cref="ReadEncodedAsync"/> hands out as the cheap path for this source, or null: it decodes.</summary>
    Media.CodecId? ProvidedCodec { get; }

    /// <summary>The next frame as a sealed wire frame of <see cref="ProvidedCodec"/> (the caller releases it), or null when the source ended.</summary>
    ValueTask<Media.MediaFrame?> ReadEncodedAsync(CancellationToken cancellationToken);
}

/// <summary>A source that can let go of its device while nobody watches (the capture pipeline pauses it).</summary>
internal interface IPausableSource
{
    /// <summary>Stops capturing until the next read (a live camera or graph would otherwise queue stale frames).</summary>
    ValueTask PauseAsync();
}

/// <summary>A live source failed (ffmpeg exited, the camera went away). Reading again retries it.</summary>
internal sealed class SourceFailedException : Exception
{
    public SourceFailedException()
    {
    }

    public SourceFailedException(string message)
        : base(message)
    {
    }

    public SourceFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
