using SocketCam.Media;

namespace SocketCam.Codecs;

/// <summary>Turns a BGR24 frame into a payload. Not thread-safe: one encoder per thread.</summary>
internal interface IFrameEncoder : IDisposable
{
    CodecId Codec { get; }

    /// <summary>An upper bound on the payload size for a frame of this size; <see cref="Encode"/> needs that much room.</summary>
    int MaxEncodedSize(int width, int height);

    /// <summary>Encodes into <paramref name="destination"/> (at least <see cref="MaxEncodedSize"/> bytes) and returns the bytes written.</summary>
    int Encode(VideoFrame frame, Span<byte> destination);
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
