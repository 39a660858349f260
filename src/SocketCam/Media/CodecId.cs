namespace SocketCam.Media;

/// <summary>How a frame's payload is encoded. Values are on the wire (docs/PROTOCOL.md §1.4 and §4.4).</summary>
public enum CodecId : byte
{
    /// <summary>Baseline JPEG (JFIF) as produced by libjpeg-turbo.</summary>
    Jpeg = 1,

    /// <summary>Uncompressed BGR24, rows packed, top row first (what the seed tutorials send).</summary>
    RawBgr24 = 2,

    /// <summary>H.264, one Annex B access unit per frame; SPS and PPS in-band before each IDR (docs/H264.md).</summary>
    H264 = 3,

    /// <summary>One Opus packet (issue 18).</summary>
    Opus = 64,

    /// <summary>Interleaved signed 16-bit little-endian samples.</summary>
    PcmS16le = 65,
}

/// <summary>What a codec says about its kind and frames (docs/PROTOCOL.md §4.4).</summary>
public static class CodecIds
{
    public static TrackKind? KindOf(CodecId codec) => codec switch
    {
        CodecId.Jpeg or CodecId.RawBgr24 or CodecId.H264 => TrackKind.Video,
        CodecId.Opus or CodecId.PcmS16le => TrackKind.Audio,
        _ => null,
    };

    /// <summary>Every frame of the codec decodes on its own (JPEG, raw, Opus, PCM): keyframe requests are absorbed.</summary>
    public static bool AllKeyframes(CodecId codec) => codec != CodecId.H264;

    /// <summary>Video the native viewers and the hub decode (JPEG, raw, H.264): what can be watched and be a room's primary track.</summary>
    public static bool IsWatchableVideo(CodecId codec) => codec is CodecId.Jpeg or CodecId.RawBgr24 or CodecId.H264;

    /// <summary>v1 can carry it (VIDEO_FRAME's codec field): JPEG and raw; an H.264 primary reaches v1 viewers transcoded (docs/H264.md).</summary>
    public static bool IsV1Video(CodecId codec) => codec is CodecId.Jpeg or CodecId.RawBgr24;

    public static string Name(CodecId codec) => codec switch
    {
        CodecId.Jpeg => "jpeg",
        CodecId.RawBgr24 => "raw",
        CodecId.H264 => "h264",
        CodecId.Opus => "opus",
        CodecId.PcmS16le => "pcm",
        _ => $"codec-{(byte)codec}",
    };
}
