namespace SocketCam.Recording;

/// <summary>
/// Writes JPEG frames (and Opus packets, where the format has room for them) to a recording, one at a time, from one
/// task. <see cref="CompleteAsync"/> finishes the file so players can read all of it; disposing without completing
/// abandons it (a .mjpeg stays playable up to its last frame).
/// </summary>
internal interface IFrameRecorder : IAsyncDisposable
{
    /// <summary>Where the recording goes (a file, or a directory of rotated files).</summary>
    string Description { get; }

    long FramesWritten { get; }

    /// <summary>Bytes in the output so far (for files written by ffmpeg, as of the last check of their size).</summary>
    long BytesWritten { get; }

    /// <summary>
    /// The Opus audio track a file declares when it starts (1 or 2 channels), or 0: video only. Set it before the first
    /// frame; a file already started keeps the tracks it has. Formats without audio (MJPEG) ignore it and say 0.
    /// </summary>
    int AudioChannels
    {
        get => 0;
        set { }
    }

    /// <summary>Whether a packet written now would be recorded (false for MJPEG, or a file that started without audio).</summary>
    bool AcceptsAudio => false;

    /// <summary>Opus packets written so far.</summary>
    long AudioPacketsWritten => 0;

    /// <summary>
    /// Whether this recording can hold video of <paramref name="codec"/> at all (MJPEG files hold JPEGs only; .mkv and
    /// .mp4 hold JPEG or H.264, one codec per file).
    /// </summary>
    bool CanRecord(Media.CodecId codec) => codec == Media.CodecId.Jpeg;

    /// <summary>Frames left out by the recorder itself: H.264 before a file's first keyframe, or of another codec than the file's.</summary>
    long FramesSkipped => 0;

    ValueTask WriteAsync(JpegFrame frame, CancellationToken cancellationToken);

    /// <summary>Writes one Opus packet (its data is only valid during the call); recorders without audio ignore it.</summary>
    ValueTask WriteAudioAsync(OpusPacket packet, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Finishes the recording (flushes it to disk, lets ffmpeg write its index). Nothing may be written after.</summary>
    ValueTask CompleteAsync(CancellationToken cancellationToken);
}
