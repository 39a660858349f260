using SocketCam.Media;

namespace SocketCam.Codecs;

/// <summary>Turns a BGR24 (or I420) frame into a payload. Not thread-safe: one encoder per thread.</summary>
internal interface IFrameEncoder : IDisposable
{
    CodecId Codec { get; }

    /// <summary>An upper bound on the payload size for a frame of this size; <see cref="Encode"/> needs that much room.</summary>
    int MaxEncodedSize(int width, int height);

    /// <summary>
    /// Encodes into <paramref name="destination"/> (at least <see cref="MaxEncodedSize"/> bytes) and returns the bytes written.
    /// Inter-coded encoders may return 0 (no frame out for this one; not with the live settings used here).
    /// </summary>
    int Encode(VideoFrame frame, Span<byte> destination);

    /// <summary>What the last encoded frame is: a keyframe (every frame, for JPEG and raw) or one that depends on earlier ones.</summary>
    FrameFlags LastFrameFlags => FrameFlags.Keyframe;

    /// <summary>Makes the next frame a keyframe (a viewer joined or lost a frame). Thread-safe; a no-op where every frame is one.</summary>
    void RequestKeyframe()
    {
    }
}

/// <summary>Turns a payload back into BGR24 pixels. Not thread-safe: one decoder per thread.</summary>
internal interface IFrameDecoder : IDisposable
{
    CodecId Codec { get; }

    /// <summary>
    /// Decodes <paramref name="payload"/>, which the sender declared as <paramref name="width"/> x <paramref name="height"/>,
    /// into <paramref name="destination"/> (same size). Throws <see cref="InvalidDataException"/> when the payload is corrupt
    /// or its real size differs from the declared one.
    /// </summary>
    void Decode(ReadOnlySpan<byte> payload, int width, int height, VideoFrame destination);
}
