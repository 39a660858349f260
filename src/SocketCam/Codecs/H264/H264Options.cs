namespace SocketCam.Codecs.H264;

/// <summary>
/// How `--codec h264` encodes (docs/H264.md). Live settings only: no B-frames, no look-ahead, one frame in, one out.
/// </summary>
public sealed record H264Options
{
    /// <summary>Target bitrate in kbit/s; 0 (the default) picks one from the picture size and rate (about 0.07 bits per pixel: 1.9 Mbit/s at 720p30).</summary>
    public int BitrateKbps { get; init; }

    /// <summary>Frames between keyframes (IDR); the default 0 means two seconds' worth. Viewers that join or fall behind also ask for one.</summary>
    public int KeyframeInterval { get; init; }

    /// <summary>Periodic intra refresh instead of periodic IDR keyframes: a column of intra blocks sweeps the picture, so no frame is big. Keyframe requests still get an IDR. Off by default.</summary>
    public bool IntraRefresh { get; init; }

    /// <summary>The encoder's threads; 0 (the default) lets the encoder choose, 1 is lowest latency. Sliced threads keep one frame in, one out.</summary>
    public int Threads { get; init; }

    /// <summary>x264's speed preset; the default "veryfast" encodes 720p30 in a few ms a frame on one core.</summary>
    public string Preset { get; init; } = "veryfast";

    public static H264Options Default { get; } = new();

    internal int BitrateFor(int width, int height, double fps) =>
        BitrateKbps > 0 ? BitrateKbps : (int)Math.Clamp(width * (double)height * fps * 0.07 / 1000, 100, 20_000);
}
