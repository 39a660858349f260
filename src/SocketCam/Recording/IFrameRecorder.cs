namespace SocketCam.Recording;

/// <summary>
/// Writes JPEG frames to a recording, one at a time, from one task. <see cref="CompleteAsync"/> finishes the file so
/// players can read all of it; disposing without completing abandons it (a .mjpeg stays playable up to its last frame).
/// </summary>
internal interface IFrameRecorder : IAsyncDisposable
{
    /// <summary>Where the recording goes (a file, or a directory of rotated files).</summary>
    string Description { get; }

    long FramesWritten { get; }

    /// <summary>Bytes in the output so far (for files written by ffmpeg, as of the last check of their size).</summary>
    long BytesWritten { get; }

    ValueTask WriteAsync(JpegFrame frame, CancellationToken cancellationToken);

    /// <summary>Finishes the recording (flushes it to disk, lets ffmpeg write its index). Nothing may be written after.</summary>
    ValueTask CompleteAsync(CancellationToken cancellationToken);
}
