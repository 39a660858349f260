using System.Buffers.Binary;
using SocketCam.Media;
using SocketCam.Transport;

namespace SocketCam.Protocol;

/// <summary>
/// The stream wire formats' headers of a <see cref="MediaFrame"/>: written once per frame into its
/// <see cref="MediaFrame.WireHeaders"/> (v1 VIDEO_FRAME at 0, v2 FRAME at 32) before fan-out, then sent in front of the
/// shared payload by every TCP/Unix writer (<see cref="GatherSender"/>): once per wire format per frame, never per subscriber.
/// </summary>
internal static class FrameFraming
{
    private const int V1Offset = 0;
    private const int V1Length = ProtocolConstants.FrameMessageOverhead;
    private const int V2Offset = 32;
    private const int V2Length = ProtocolConstants.MessageHeaderSize + ProtocolConstants.FrameV2HeaderSize;

    /// <summary>Writes both headers; <paramref name="v1Sequence"/> is the sequence v1 viewers see (the primary stream's numbering).</summary>
    public static void Stamp(MediaFrame frame, long v1Sequence)
    {
        FrameInfo h = frame.Header;
        Span<byte> headers = frame.WireHeaders;
        if (CodecIds.IsV1Video(h.Codec) && h.Kind == TrackKind.Video)
        {
            MessageWriter.WriteVideoFrameHeaders(
                headers.Slice(V1Offset, V1Length),
                new VideoFrameHeader(h.Codec, h.Width, h.Height, v1Sequence, h.CaptureMicros),
                frame.DataLength);
        }

        MessageWriterV2.WriteFrameHeader(headers.Slice(V2Offset, V2Length), frame.ParticipantId, frame.TrackId, h, frame.DataLength);
    }

    /// <summary>The v1 VIDEO_FRAME message header and frame header (valid after <see cref="Stamp"/>).</summary>
    public static ArraySegment<byte> V1Header(MediaFrame frame) => new(frame.WireHeaders, V1Offset, V1Length);

    /// <summary>The v2 FRAME message header and fixed frame header (valid after <see cref="Stamp"/>).</summary>
    public static ArraySegment<byte> V2Header(MediaFrame frame) => new(frame.WireHeaders, V2Offset, V2Length);

    /// <summary>Reads the sequence written into the v1 header (what a v1 viewer receives).</summary>
    public static long V1Sequence(MediaFrame frame) =>
        BinaryPrimitives.ReadInt64BigEndian(frame.WireHeaders.AsSpan(V1Offset + ProtocolConstants.MessageHeaderSize + 8));
}
