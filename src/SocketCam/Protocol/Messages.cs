using SocketCam.Media;
using SocketCam.Codecs;

namespace SocketCam.Protocol;

internal readonly record struct HelloMessage(PeerRole Role, string Room, string Token, string Agent);

internal readonly record struct WelcomeMessage(ulong SessionId, long ServerTimeMicros, uint MaxFrameBytes);

/// <summary>The fixed 24-byte header in front of a VIDEO_FRAME's picture data.</summary>
internal readonly record struct VideoFrameHeader(CodecId Codec, int Width, int Height, long Sequence, long CaptureMicros)
{
    /// <summary>A v1 frame as a media-neutral one: video, every frame a keyframe.</summary>
    public static implicit operator FrameInfo(VideoFrameHeader h) => FrameInfo.Video(h.Codec, h.Width, h.Height, h.Sequence, h.CaptureMicros);

    /// <summary>The v1 view of a video frame (kind and flags dropped: v1 carries only all-keyframe video).</summary>
    public static implicit operator VideoFrameHeader(FrameInfo f) => new(f.Codec, f.Width, f.Height, f.Sequence, f.CaptureMicros);
}

internal readonly record struct PingMessage(uint Id, long SentMicros);

internal readonly record struct PongMessage(uint Id, long EchoSentMicros, long PeerTimeMicros);

/// <summary>SIGNAL: whether the room's source is live, and why not (empty when there is no reason to give); what a viewer is told.</summary>
public readonly record struct SignalMessage(bool Live, string Text);

/// <summary>ERROR or GOODBYE.</summary>
internal readonly record struct CloseMessage(ErrorCode Code, string Text);
