using System.Buffers.Binary;
using System.Text;
using SocketCam.Codecs;

namespace SocketCam.Protocol;

/// <summary>Writes protocol v1 messages into caller-provided spans and returns the bytes written.</summary>
internal static class MessageWriter
{
    /// <summary>Large enough for any control message (everything except VIDEO_FRAME).</summary>
    public const int MaxControlMessageSize = ProtocolConstants.MessageHeaderSize + ProtocolConstants.MaxControlPayload + 8;

    public static int WritePreface(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, ProtocolConstants.Magic);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], ProtocolConstants.Version);
        // max_version (docs/PROTOCOL.md §4.1): v1 peers ignore it, v2 clients learn the hub speaks 2.
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], ProtocolV2.MaxVersion);
        return ProtocolConstants.PrefaceSize;
    }

    public static void WriteHeader(Span<byte> destination, MessageType type, int payloadLength)
    {
        destination[0] = (byte)type;
        destination[1] = 0;
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)payloadLength);
    }

    public static int WriteHello(Span<byte> destination, in HelloMessage hello)
    {
        CheckV1Token(hello.Token);
        Span<byte> p = destination[ProtocolConstants.MessageHeaderSize..];
        p[0] = (byte)hello.Role;
        int n = 1;
        n += WriteString8(p[n..], hello.Room, ProtocolConstants.MaxRoomLength);
        n += WriteString8(p[n..], hello.Token, ProtocolConstants.MaxTokenLength);
        n += WriteString8(p[n..], hello.Agent, ProtocolConstants.MaxAgentLength);
        WriteHeader(destination, MessageType.Hello, n);
        return ProtocolConstants.MessageHeaderSize + n;
    }

    public static int WriteWelcome(Span<byte> destination, in WelcomeMessage welcome)
    {
        Span<byte> p = destination[ProtocolConstants.MessageHeaderSize..];
        BinaryPrimitives.WriteUInt64BigEndian(p, welcome.SessionId);
        BinaryPrimitives.WriteInt64BigEndian(p[8..], welcome.ServerTimeMicros);
        BinaryPrimitives.WriteUInt32BigEndian(p[16..], welcome.MaxFrameBytes);
        WriteHeader(destination, MessageType.Welcome, ProtocolConstants.WelcomePayloadSize);
        return ProtocolConstants.MessageHeaderSize + ProtocolConstants.WelcomePayloadSize;
    }

    /// <summary>
    /// Writes the message header and the 24-byte frame header in front of <paramref name="dataLength"/> bytes
    /// of picture data that the caller has placed (or will place) right after them.
    /// </summary>
    public static void WriteVideoFrameHeaders(Span<byte> destination, in VideoFrameHeader header, int dataLength)
    {
        WriteHeader(destination, MessageType.VideoFrame, ProtocolConstants.VideoFrameHeaderSize + dataLength);
        Span<byte> h = destination.Slice(ProtocolConstants.MessageHeaderSize, ProtocolConstants.VideoFrameHeaderSize);
        h[0] = (byte)header.Codec;
        h[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], checked((ushort)header.Width));
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], checked((ushort)header.Height));
        BinaryPrimitives.WriteUInt16BigEndian(h[6..], 0);
        BinaryPrimitives.WriteInt64BigEndian(h[8..], header.Sequence);
        BinaryPrimitives.WriteInt64BigEndian(h[16..], header.CaptureMicros);
    }

    public static int WritePing(Span<byte> destination, in PingMessage ping)
    {
        Span<byte> p = destination[ProtocolConstants.MessageHeaderSize..];
        BinaryPrimitives.WriteUInt32BigEndian(p, ping.Id);
        BinaryPrimitives.WriteUInt32BigEndian(p[4..], 0);
        BinaryPrimitives.WriteInt64BigEndian(p[8..], ping.SentMicros);
        WriteHeader(destination, MessageType.Ping, ProtocolConstants.PingPayloadSize);
        return ProtocolConstants.MessageHeaderSize + ProtocolConstants.PingPayloadSize;
    }

    public static int WritePong(Span<byte> destination, in PongMessage pong)
    {
        Span<byte> p = destination[ProtocolConstants.MessageHeaderSize..];
        BinaryPrimitives.WriteUInt32BigEndian(p, pong.Id);
        BinaryPrimitives.WriteUInt32BigEndian(p[4..], 0);
        BinaryPrimitives.WriteInt64BigEndian(p[8..], pong.EchoSentMicros);
        BinaryPrimitives.WriteInt64BigEndian(p[16..], pong.PeerTimeMicros);
        WriteHeader(destination, MessageType.Pong, ProtocolConstants.PongPayloadSize);
        return ProtocolConstants.MessageHeaderSize + ProtocolConstants.PongPayloadSize;
    }

    /// <summary>ERROR (fatal) or GOODBYE (polite close); the text is cut to the protocol's limit.</summary>
    public static int WriteClose(Span<byte> destination, MessageType type, ErrorCode code, string text)
    {
        Span<byte> p = destination[ProtocolConstants.MessageHeaderSize..];
        BinaryPrimitives.WriteUInt16BigEndian(p, (ushort)code);
        int textLength = EncodeTruncated(text, p[4..], ProtocolConstants.MaxErrorTextLength);
        BinaryPrimitives.WriteUInt16BigEndian(p[2..], (ushort)textLength);
        WriteHeader(destination, type, 4 + textLength);
        return ProtocolConstants.MessageHeaderSize + 4 + textLength;
    }

    /// <summary>SIGNAL; control characters in the text become spaces and it is cut to the protocol's limit.</summary>
    public static int WriteSignal(Span<byte> destination, in SignalMessage signal)
    {
        Span<byte> p = destination[ProtocolConstants.MessageHeaderSize..];
        p[0] = signal.Live ? ProtocolConstants.SignalStateLive : ProtocolConstants.SignalStateNone;
        p[1] = 0;
        int textLength = EncodeTruncated(Printable(signal.Text), p[ProtocolConstants.SignalFixedSize..], ProtocolConstants.MaxSignalTextLength);
        BinaryPrimitives.WriteUInt16BigEndian(p[2..], (ushort)textLength);
        WriteHeader(destination, MessageType.Signal, ProtocolConstants.SignalFixedSize + textLength);
        return ProtocolConstants.MessageHeaderSize + ProtocolConstants.SignalFixedSize + textLength;
    }

    /// <summary>
    /// <paramref name="text"/> with every control character replaced by a space: reasons come from places like
    /// ffmpeg's stderr (carriage returns, colour escapes), and the receiver refuses text with control characters.
    /// </summary>
    public static string Printable(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        return string.Create(text.Length, text, static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? ' ' : source[i];
            }
        });
    }

    /// <summary>A token too long for a v1 HELLO (TCP or UDP): one line that says what to do and never repeats the token.</summary>
    internal static void CheckV1Token(string? token)
    {
        int length = Encoding.UTF8.GetByteCount(token ?? "");
        if (length > ProtocolConstants.MaxTokenLength)
        {
            throw new ArgumentException(
                $"The token is {length} bytes; a v1 HELLO (view, snapshot, udp://) carries at most {ProtocolConstants.MaxTokenLength}: "
                + "make a shorter one (socketcam token with a shorter --identity or --room), or use call or publish, which carry up to 4096.");
        }
    }

    private static int WriteString8(Span<byte> destination, string value, int max)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        if (length > max)
        {
            throw new ArgumentException($"'{value}' is {length} bytes in UTF-8; the limit is {max}.");
        }

        destination[0] = (byte)length;
        Encoding.UTF8.GetBytes(value, destination[1..]);
        return 1 + length;
    }

    private static int EncodeTruncated(string text, Span<byte> destination, int max)
    {
        // Cut on a character boundary so the receiver's strict UTF-8 check passes.
        Encoder encoder = Encoding.UTF8.GetEncoder();
        encoder.Convert(text, destination[..Math.Min(max, destination.Length)], flush: true, out _, out int bytesUsed, out _);
        return bytesUsed;
    }
}
