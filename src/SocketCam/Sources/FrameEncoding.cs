using SocketCam.Codecs;
using SocketCam.Media;
using SocketCam.Protocol;


namespace SocketCam.Sources;

/// <summary>Turns what a source produces into a pooled wire message (no intermediate copy).</summary>
internal static class FrameEncoding
{
    public static MediaFrame Encode(IFrameEncoder encoder, VideoFrame frame) =>
        TryEncode(encoder, frame) ?? throw new InvalidOperationException("The encoder kept the frame back.");

    /// <summary>The frame encoded, or null when an inter-coded encoder gave nothing for it.</summary>
    public static MediaFrame? TryEncode(IFrameEncoder encoder, VideoFrame frame)
    {
        MediaFrame shared = MediaFrame.Rent(encoder.MaxEncodedSize(frame.Width, frame.Height));
        try
        {
            int length = encoder.Encode(frame, shared.WritableData);
            if (length == 0)
            {
                // An inter-coded encoder kept this picture back (not with the live settings): nothing to send for it.
                shared.Release();
                return null;
            }

            shared.Complete(new FrameInfo(TrackKind.Video, encoder.Codec, encoder.LastFrameFlags, frame.Width, frame.Height, frame.Sequence, frame.CaptureMicros), length);
            return shared;
        }
        catch
        {
            shared.Release();
            throw;
        }
    }

    /// <summary>True when the source's own frames (JPEG or H.264) can be sent as they are (no decode, no encode).</summary>
    public static bool IsPassthrough(IFrameSource source, IFrameEncoder encoder) => IsPassthrough(source, encoder.Codec);

    /// <summary>
    /// True when the source's own frames are already in <paramref name="codec"/>: then no encoder is needed at all (an
    /// H.264 file or camera passed through, docs/H264.md "Pass-through").
    /// </summary>
    public static bool IsPassthrough(IFrameSource source, CodecId codec) =>
        source is IEncodedFrameSource { ProvidedCodec: { } provided } && provided == codec;

    /// <summary>
    /// The next frame as a wire message: a source's own frame passed through when it is in the encoder's codec, otherwise
    /// captured and encoded. Null when the source ended.
    /// </summary>
    public static async ValueTask<MediaFrame?> ReadAsync(IFrameSource source, IFrameEncoder encoder, CancellationToken cancellationToken)
    {
        if (IsPassthrough(source, encoder))
        {
            return await ((IEncodedFrameSource)source).ReadEncodedAsync(cancellationToken);
        }

        VideoFrame? frame = await source.ReadFrameAsync(cancellationToken);
        if (frame is null)
        {
            return null;
        }

        using (frame)
        {
            return Encode(encoder, frame);
        }
    }
}
