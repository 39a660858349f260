using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using SocketCam.Codecs;
using SocketCam.Media;

namespace SocketCam.Protocol;

/// <summary>
/// Reads protocol v1 from a byte sequence (docs/PROTOCOL.md). The Try* methods return false when more
/// bytes are needed and throw <see cref="ProtocolException"/> when the bytes can never become valid.
/// Lengths are checked against their caps before the caller waits for (and buffers) a payload.
/// </summary>
internal static class MessageParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Consumes the 8-byte preface from <paramref name="buffer"/>.</summary>
    public static bool TryReadPreface(ref ReadOnlySequence<byte> buffer)
    {
        // Check the magic as soon as 4 bytes are in, so an HTTP request or junk is refused at once.
        if (buffer.Length < 4)
        {
            if (!buffer.IsEmpty)
            {
                Span<byte> partial = stackalloc byte[4];
                int have = (int)buffer.Length;
                buffer.CopyTo(partial);
                ReadOnlySpan<byte> magic = "SCAM"u8;
                if (!partial[..have].SequenceEqual(magic[..have]))
                {
                    throw BadMagic(buffer);
                }
            }

            return false;
        }

        Span<byte> preface = stackalloc byte[ProtocolConstants.PrefaceSize];
        int available = (int)Math.Min(buffer.Length, ProtocolConstants.PrefaceSize);
        buffer.Slice(0, available).CopyTo(preface);
        if (BinaryPrimitives.ReadUInt32BigEndian(preface) != ProtocolConstants.Magic)
        {
            throw BadMagic(buffer);
        }

        if (available < ProtocolConstants.PrefaceSize)
        {
            return false;
        }

        ushort version = BinaryPrimitives.ReadUInt16BigEndian(preface[4..]);
        if (version != ProtocolConstants.Version)
        {
            throw new ProtocolException(ErrorCode.UnsupportedVersion, $"Protocol version {version} is not supported (this build speaks {ProtocolConstants.Version}).");
        }

        buffer = buffer.Slice(ProtocolConstants.PrefaceSize);
        return true;
    }

    /// <summary>Throws bad-magic when the first bytes there are (up to 4) are not "SCAM": junk is refused at once.</summary>
    public static void CheckMagicPrefix(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> partial = stackalloc byte[4];
        int have = (int)Math.Min(buffer.Length, 4);
        buffer.Slice(0, have).CopyTo(partial);
        if (!partial[..have].SequenceEqual("SCAM"u8[..have]))
        {
            throw BadMagic(buffer);
        }
    }

    /// <summary>
    /// Consumes one whole message. <paramref name="maxFrameBytes"/> caps a VIDEO_FRAME's picture data.
    /// The payload is a slice of <paramref name="buffer"/>: valid until the caller advances the reader.
    /// </summary>
    public static bool TryReadMessage(ref ReadOnlySequence<byte> buffer, int maxFrameBytes, out MessageType type, out ReadOnlySequence<byte> payload)
    {
        type = default;
        payload = default;
        if (buffer.Length < ProtocolConstants.MessageHeaderSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[ProtocolConstants.MessageHeaderSize];
        buffer.Slice(0, ProtocolConstants.MessageHeaderSize).CopyTo(header);
        type = (MessageType)header[0];
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        long cap = PayloadCap(type, maxFrameBytes);
        if (length > cap)
        {
            throw new ProtocolException(ErrorCode.TooLarge, $"{type} message of {length} bytes exceeds the cap of {cap} bytes.");
        }

        long total = ProtocolConstants.MessageHeaderSize + (long)length;
        if (buffer.Length < total)
        {
            return false;
        }

        payload = buffer.Slice(ProtocolConstants.MessageHeaderSize, length);
        buffer = buffer.Slice(total);
        return true;
    }

    /// <summary>UDP_KEY's fixed payload (docs/PROTOCOL.md §2.0 "Encrypted sessions").</summary>
    public const int UdpKeyPayloadSize = 84;

    /// <summary>The largest payload a message of this type may have; throws for unknown types.</summary>
    public static long PayloadCap(MessageType type, int maxFrameBytes) => type switch
    {
        MessageType.Hello or MessageType.Welcome or MessageType.UdpKeyRequest => ProtocolConstants.MaxControlPayload,
        MessageType.UdpKey => UdpKeyPayloadSize,
        MessageType.VideoFrame => ProtocolConstants.VideoFrameHeaderSize + (long)maxFrameBytes,
        MessageType.Ping => ProtocolConstants.PingPayloadSize,
        MessageType.Pong => ProtocolConstants.PongPayloadSize,
        MessageType.Error or MessageType.Goodbye => 4 + ProtocolConstants.MaxErrorTextLength,
        MessageType.Signal => ProtocolConstants.SignalFixedSize + ProtocolConstants.MaxSignalTextLength,
        _ => throw new ProtocolException(ErrorCode.Malformed, $"Unknown message type 0x{(byte)type:X2}."),
    };

    public static HelloMessage ParseHello(ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        if (!reader.TryRead(out byte role) || role is not ((byte)PeerRole.Publisher or (byte)PeerRole.Viewer))
        {
            throw new ProtocolException(ErrorCode.Malformed, "HELLO has no valid role (1 = publisher, 2 = viewer).");
        }

        string room = ReadString8(ref reader, "room", ProtocolConstants.MaxRoomLength);
        if (!RoomName.IsValid(room))
        {
            throw new ProtocolException(ErrorCode.Malformed, "HELLO room name is empty or has characters outside A-Z a-z 0-9 . _ -");
        }

        string token = ReadString8(ref reader, "token", ProtocolConstants.MaxTokenLength);
        string agent = ReadString8(ref reader, "agent", ProtocolConstants.MaxAgentLength);
        if (agent.Any(char.IsControl))
        {
            // The agent goes into the hub's log: a newline in it could forge log lines.
            throw new ProtocolException(ErrorCode.Malformed, "HELLO agent contains control characters.");
        }

        ExpectEnd(ref reader, "HELLO");
        return new HelloMessage((PeerRole)role, room, token, agent);
    }

    public static WelcomeMessage ParseWelcome(ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        if (!reader.TryReadBigEndian(out long session) || !reader.TryReadBigEndian(out long time) || !reader.TryReadBigEndian(out int max))
        {
            throw new ProtocolException(ErrorCode.Malformed, "WELCOME is too short.");
        }

        ExpectEnd(ref reader, "WELCOME");
        return new WelcomeMessage((ulong)session, time, (uint)max);
    }

    /// <summary>Reads and checks a VIDEO_FRAME's fixed header; <paramref name="data"/> is the picture.</summary>
    public static VideoFrameHeader ParseVideoFrame(ReadOnlySequence<byte> payload, out ReadOnlySequence<byte> data)
    {
        if (payload.Length < ProtocolConstants.VideoFrameHeaderSize)
        {
            throw new ProtocolException(ErrorCode.Malformed, "VIDEO_FRAME is shorter than its 24-byte header.");
        }

        Span<byte> h = stackalloc byte[ProtocolConstants.VideoFrameHeaderSize];
        payload.Slice(0, ProtocolConstants.VideoFrameHeaderSize).CopyTo(h);
        data = payload.Slice(ProtocolConstants.VideoFrameHeaderSize);
        return ParseVideoFrameHeader(h, data.Length);
    }

    /// <summary>Checks the fixed header against the picture length that follows it.</summary>
    public static VideoFrameHeader ParseVideoFrameHeader(ReadOnlySpan<byte> h, long dataLength)
    {
        var codec = (CodecId)h[0];
        int width = BinaryPrimitives.ReadUInt16BigEndian(h[2..]);
        int height = BinaryPrimitives.ReadUInt16BigEndian(h[4..]);
        long sequence = BinaryPrimitives.ReadInt64BigEndian(h[8..]);
        long capture = BinaryPrimitives.ReadInt64BigEndian(h[16..]);
        if (width is < 1 or > FrameLimits.MaxDimension || height is < 1 or > FrameLimits.MaxDimension)
        {
            throw new ProtocolException(ErrorCode.BadFrame, $"Frame size {width}x{height} is outside 1..{FrameLimits.MaxDimension}.");
        }

        switch (codec)
        {
            case CodecId.Jpeg:
                if (dataLength < 4)
                {
                    throw new ProtocolException(ErrorCode.BadFrame, "JPEG frame is empty.");
                }

                break;
            case CodecId.RawBgr24:
                long expected = (long)width * height * 3;
                if (dataLength != expected)
                {
                    throw new ProtocolException(ErrorCode.BadFrame, $"Raw {width}x{height} frame must be {expected} bytes, got {dataLength}.");
                }

                break;
            default:
                throw new ProtocolException(ErrorCode.BadFrame, $"Unknown codec {(byte)codec}.");
        }

        return new VideoFrameHeader(codec, width, height, sequence, capture);
    }

    public static PingMessage ParsePing(ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        if (!reader.TryReadBigEndian(out int id) || !reader.TryReadBigEndian(out int _) || !reader.TryReadBigEndian(out long sent))
        {
            throw new ProtocolException(ErrorCode.Malformed, "PING is too short.");
        }

        ExpectEnd(ref reader, "PING");
        return new PingMessage((uint)id, sent);
    }

    public static PongMessage ParsePong(ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        if (!reader.TryReadBigEndian(out int id) || !reader.TryReadBigEndian(out int _)
            || !reader.TryReadBigEndian(out long echo) || !reader.TryReadBigEndian(out long peer))
        {
            throw new ProtocolException(ErrorCode.Malformed, "PONG is too short.");
        }

        ExpectEnd(ref reader, "PONG");
        return new PongMessage((uint)id, echo, peer);
    }

    /// <summary>ERROR or GOODBYE.</summary>
    public static CloseMessage ParseClose(ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        if (!reader.TryReadBigEndian(out short code) || !reader.TryReadBigEndian(out short textLength))
        {
            throw new ProtocolException(ErrorCode.Malformed, "ERROR/GOODBYE is too short.");
        }

        string text = ReadText(ref reader, (ushort)textLength, ProtocolConstants.MaxErrorTextLength, "ERROR/GOODBYE");
        return new CloseMessage((ErrorCode)(ushort)code, text);
    }

    public static SignalMessage ParseSignal(ReadOnlySequence<byte> payload)
    {
        var reader = new SequenceReader<byte>(payload);
        // The reserved byte is skipped unread, as the spec says: a later version may put flags there.
        if (!reader.TryRead(out byte state) || !reader.TryRead(out byte _) || !reader.TryReadBigEndian(out short textLength))
        {
            throw new ProtocolException(ErrorCode.Malformed, "SIGNAL is too short.");
        }

        if (state is not (ProtocolConstants.SignalStateNone or ProtocolConstants.SignalStateLive))
        {
            throw new ProtocolException(ErrorCode.Malformed, $"SIGNAL state {state} is neither 0 (no signal) nor 1 (live).");
        }

        string text = ReadText(ref reader, (ushort)textLength, ProtocolConstants.MaxSignalTextLength, "SIGNAL");
        return new SignalMessage(state == ProtocolConstants.SignalStateLive, text);
    }

    /// <summary>The text that ends ERROR, GOODBYE and SIGNAL: exactly <paramref name="length"/> bytes, the rest of the payload.</summary>
    private static string ReadText(ref SequenceReader<byte> reader, int length, int max, string message)
    {
        if (length > max || reader.Remaining != length)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"{message} text length does not match the payload.");
        }

        string text = DecodeUtf8(reader.UnreadSequence, "text");
        if (text.Any(char.IsControl))
        {
            // The text is printed and logged by the other side: a newline or escape in it could forge lines.
            throw new ProtocolException(ErrorCode.Malformed, $"{message} text contains control characters.");
        }

        reader.AdvanceToEnd();
        return text;
    }

    private static string ReadString8(ref SequenceReader<byte> reader, string field, int max)
    {
        if (!reader.TryRead(out byte length))
        {
            throw new ProtocolException(ErrorCode.Malformed, $"HELLO ends before its {field}.");
        }

        if (length > max)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"HELLO {field} is {length} bytes; the limit is {max}.");
        }

        if (reader.Remaining < length)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"HELLO ends inside its {field}.");
        }

        string value = DecodeUtf8(reader.UnreadSequence.Slice(0, length), field);
        reader.Advance(length);
        return value;
    }

    private static string DecodeUtf8(ReadOnlySequence<byte> bytes, string field)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"The {field} is not valid UTF-8.");
        }
    }

    private static void ExpectEnd(ref SequenceReader<byte> reader, string message)
    {
        if (!reader.End)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"{message} has {reader.Remaining} unexpected trailing bytes.");
        }
    }

    /// <summary>Bad magic; the first bytes (up to 16) go with it, so a client can tell what it reached instead (<see cref="ProtocolException.Seen"/>).</summary>
    private static ProtocolException BadMagic(in ReadOnlySequence<byte> buffer)
    {
        byte[] seen = buffer.Slice(0, Math.Min(buffer.Length, 16)).ToArray();
        return new(ErrorCode.BadMagic, $"Not a SocketCam peer: expected preface 'SCAM', got {Convert.ToHexString(seen.AsSpan(0, Math.Min(seen.Length, 4)))}.") { Seen = seen };
    }
}
