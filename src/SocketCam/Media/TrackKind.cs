namespace SocketCam.Media;

/// <summary>What a track carries (docs/PROTOCOL.md §4.4 kind). It chooses the delivery policy: video newest wins, audio a short FIFO.</summary>
public enum TrackKind : byte
{
    Video = 1,
    Audio = 2,
}

/// <summary>FRAME's frame_flags (docs/PROTOCOL.md §4.6.4).</summary>
[Flags]
public enum FrameFlags : byte
{
    None = 0,

    /// <summary>Decodable without any earlier frame (every frame of JPEG, raw, Opus, PCM).</summary>
    Keyframe = 1,

    /// <summary>No later frame depends on it: may be skipped without waiting for a keyframe.</summary>
    Droppable = 2,

    /// <summary>The first frame after the source restarted: sequence and capture time may jump.</summary>
    Discontinuity = 4,
}

/// <summary>
/// What a media frame is, apart from its payload: kind, codec, flags, size (video: width × height; audio: samples per
/// channel in <see cref="Width"/>, 0), the publisher's sequence and the capture time (µs, hub clock).
/// </summary>
public readonly record struct FrameInfo(TrackKind Kind, CodecId Codec, FrameFlags Flags, int Width, int Height, long Sequence, long CaptureMicros)
{
    /// <summary>A video frame of a codec whose frames are all keyframes (JPEG, raw): what every v1 source makes.</summary>
    public static FrameInfo Video(CodecId codec, int width, int height, long sequence, long captureMicros) =>
        new(TrackKind.Video, codec, FrameFlags.Keyframe, width, height, sequence, captureMicros);

    public bool IsKeyframe => (Flags & FrameFlags.Keyframe) != 0;

    public bool IsDroppable => (Flags & FrameFlags.Droppable) != 0;
}
