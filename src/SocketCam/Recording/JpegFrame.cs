using SocketCam.Media;

namespace SocketCam.Recording;

/// <summary>
/// One video frame to record, with its size and capture time (µs since the Unix epoch, on the hub's clock): a whole JPEG,
/// or, with <paramref name="Codec"/> <see cref="CodecId.H264"/>, one Annex B access unit (checked by AnnexB.Inspect),
/// <paramref name="Keyframe"/> on IDR units. (The name predates H.264.)
/// </summary>
internal readonly record struct JpegFrame(ReadOnlyMemory<byte> Data, int Width, int Height, long Sequence, long CaptureMicros,
    CodecId Codec = CodecId.Jpeg, bool Keyframe = true);

/// <summary>
/// One Opus packet to record: <paramref name="Samples"/> samples per channel at 48 kHz, captured at
/// <paramref name="CaptureMicros"/> (µs since the Unix epoch, on the hub's clock: the same clock as the video's).
/// </summary>
internal readonly record struct OpusPacket(ReadOnlyMemory<byte> Data, int Samples, long Sequence, long CaptureMicros);
