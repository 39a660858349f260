using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;
using SocketCam.Codecs;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Udp;

/// <summary>
/// Writes and reads the datagrams of live video over UDP (docs/PROTOCOL.md §2.0). Writers fill a caller's span and
/// return the length; they throw only on a caller's mistake. Readers are strict and never throw: anything that is not
/// exactly one layout (size, prefix, field out of range, bad UTF-8, control characters in text) gives false, and
/// nothing is allocated before every length has been checked. Readers check the prefix's magic, version and type but
/// not its session id (<see cref="TryReadPrefix"/> gives it; binding it to a session is the caller's job).
/// </summary>
internal static partial class UdpWire
{
    /// <summary>"SCUV" read as a big-endian 32-bit integer.</summary>
    public const uint Magic = 0x53435556;

    public const byte Version = 1;

    public const int MaxDatagram = 1200;

    public const int PrefixSize = 16;

    public const int FragmentHeaderSize = 52;

    /// <summary>
    /// 1124: what is left of 1200 bytes after the header and an encrypted session's seal, for every session alike, so a
    /// sealed FRAGMENT still fits (docs/PROTOCOL.md §2.0 "Encrypted sessions").
    /// </summary>
    public const int FragmentPayload = MaxDatagram - FragmentHeaderSize - DatagramSeal.Overhead;

    public const int MinHelloSize = 256;

    public const int MaxNackCount = 574;

    public const int WelcomeSize = 40;

    public const int RefuseFixedSize = 28;

    public const int NackFixedSize = 24;

    public const int ReportSize = 40;
    public const int DoneSize = 24;

    public const int PingSize = 32;

    public const int PongSize = 40;

    public const int SignalFixedSize = 20;

    public const int ByeFixedSize = 20;

    public const int MaxTextLength = 1024;

    /// <summary>HELLO flag bit 0: the frame sender adds no parity and the receiver sends no NACK.</summary>
    public const byte HelloFlagNoRecovery = 1;

    /// <summary>HELLO flag bit 2: a viewer that wants the watched participant's sound (AUDIO datagrams).</summary>
    public const byte HelloFlagAudio = 4;

    /// <summary>HELLO flag bit 3: a viewer that takes H.264 frames as they are (without it, the room's JPEG). Bit 1 is §4.13's.</summary>
    public const byte HelloFlagH264 = 8;

    public const int KeyframeRequestSize = 20;

    /// <summary>KEYFRAME_REQUEST reasons above this are malformed (0 other, 1 frame lost, 2 decoder waits; hub → publisher: §4.6.5's).</summary>
    public const byte MaxKeyframeReason = 2;

    /// <summary>KEYFRAME_REQUEST reason: a frame was lost for good.</summary>
    public const byte KeyframeReasonFrameLost = 1;

    /// <summary>KEYFRAME_REQUEST reason: the decoder waits for a keyframe.</summary>
    public const byte KeyframeReasonDecoderWaits = 2;

    /// <summary>Fragment indexes are 16-bit: data plus parity fragments of one frame never exceed this.</summary>
    public const int MaxFragmentsPerFrame = 65536;

    /// <summary>The largest frame UDP carries: 36,535 data fragments plus parity at the smallest group (2) fit in 65536.</summary>
    public const int MaxFrameBytes = 40 * 1024 * 1024;

    private const int HelloFixedSize = 26;

    public static bool TryReadPrefix(ReadOnlySpan<byte> datagram, out DatagramType type, out ulong sessionId)
    {
        type = default;
        sessionId = 0;
        if (datagram.Length < PrefixSize || datagram.Length > MaxDatagram
            || BinaryPrimitives.ReadUInt32BigEndian(datagram) != Magic || datagram[4] != Version || !IsKnownType(datagram[5]))
        {
            return false;
        }

        // Bytes 6-7 are reserved: receivers ignore them.
        type = (DatagramType)datagram[5];
        sessionId = BinaryPrimitives.ReadUInt64BigEndian(datagram[8..]);
        return true;
    }

    public static bool IsKnownType(byte type) => (DatagramType)type is DatagramType.Hello or DatagramType.Welcome or DatagramType.Refuse
        or DatagramType.Fragment or DatagramType.Nack or DatagramType.Report or DatagramType.Done or DatagramType.Audio or DatagramType.AudioNack or DatagramType.KeyframeRequest or DatagramType.Ping or DatagramType.Pong
        or DatagramType.Signal or DatagramType.Bye;

    // ---- Frame arithmetic (§2.0 "Frames: FRAGMENT") ----

    /// <summary><c>max(1, ceil(total / 1124))</c>.</summary>
    public static int DataCount(long totalLength) => totalLength <= 0 ? 1 : (int)Math.Min(int.MaxValue, (totalLength + FragmentPayload - 1) / FragmentPayload);

    /// <summary><c>ceil(dataCount / group)</c>, 0 without parity.</summary>
    public static int ParityCount(int dataCount, int group) => group == 0 ? 0 : (dataCount + group - 1) / group;

    /// <summary>Payload bytes of data fragment <paramref name="index"/>: <c>min(1124, total - index × 1124)</c>.</summary>
    public static int DataPayloadLength(long totalLength, int index) => (int)Math.Clamp(totalLength - ((long)index * FragmentPayload), 0, FragmentPayload);

    /// <summary>
    /// Payload bytes of the parity of group <paramref name="groupIndex"/>: the longest data payload of the group. Data
    /// payloads never grow with the index, so that is the group's first.
    /// </summary>
    public static int ParityPayloadLength(long totalLength, int group, int groupIndex) => DataPayloadLength(totalLength, groupIndex * group);

    // ---- HELLO ----

    /// <summary>Writes a HELLO padded with zeros to at least 256 bytes. A HELLO carries session id 0.</summary>
    public static int WriteHello(Span<byte> destination, ulong sessionId, in UdpHello hello)
    {
        if (sessionId != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sessionId), "A HELLO carries session id 0.");
        }

        if (hello.Role is not (PeerRole.Publisher or PeerRole.Viewer))
        {
            throw new ArgumentException($"Role {hello.Role} is not publisher or viewer.", nameof(hello));
        }

        if (!RoomName.IsValid(hello.Room))
        {
            throw new ArgumentException($"Room name '{hello.Room}' is invalid.", nameof(hello));
        }

        if (hello.Agent.Any(char.IsControl))
        {
            throw new ArgumentException("The agent contains control characters.", nameof(hello));
        }

        MessageWriter.CheckV1Token(hello.Token);
        WritePrefix(destination, DatagramType.Hello, 0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], hello.Nonce);
        destination[24] = hello.Flags;
        destination[25] = (byte)hello.Role;
        int n = HelloFixedSize;
        n += WriteString8(destination[n..], hello.Room, ProtocolConstants.MaxRoomLength);
        n += WriteString8(destination[n..], hello.Token ?? string.Empty, ProtocolConstants.MaxTokenLength);
        n += WriteString8(destination[n..], hello.Agent, ProtocolConstants.MaxAgentLength);
        int length = Math.Max(MinHelloSize, n);
        destination[n..length].Clear();
        return length;
    }

    /// <summary>A HELLO: 256..1200 bytes, session id 0, valid role/room/UTF-8, no control characters in the agent, zero padding.</summary>
    public static bool TryReadHello(ReadOnlySpan<byte> datagram, out UdpHello hello)
    {
        hello = default;
        if (!HasPrefix(datagram, DatagramType.Hello, MinHelloSize, MaxDatagram) || BinaryPrimitives.ReadUInt64BigEndian(datagram[8..]) != 0)
        {
            return false;
        }

        ulong nonce = BinaryPrimitives.ReadUInt64BigEndian(datagram[16..]);
        byte flags = datagram[24];
        byte role = datagram[25];
        if (role is not ((byte)PeerRole.Publisher or (byte)PeerRole.Viewer))
        {
            return false;
        }

        int n = HelloFixedSize;
        if (!TryReadString8(datagram, ref n, ProtocolConstants.MaxRoomLength, out string? room) || !RoomName.IsValid(room)
            || !TryReadString8(datagram, ref n, ProtocolConstants.MaxTokenLength, out string? token)
            || !TryReadString8(datagram, ref n, ProtocolConstants.MaxAgentLength, out string? agent) || agent.Any(char.IsControl)
            || datagram[n..].ContainsAnyExcept((byte)0))
        {
            return false;
        }

        hello = new UdpHello(nonce, flags, (PeerRole)role, room, token.Length == 0 ? null : token, agent);
        return true;
    }

    // ---- WELCOME ----

    public static int WriteWelcome(Span<byte> destination, ulong sessionId, in UdpWelcome welcome)
    {
        WritePrefix(destination, DatagramType.Welcome, sessionId);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], welcome.Nonce);
        BinaryPrimitives.WriteInt64BigEndian(destination[24..], welcome.ServerTimeMicros);
        BinaryPrimitives.WriteUInt32BigEndian(destination[32..], welcome.MaxFrameBytes);
        BinaryPrimitives.WriteUInt16BigEndian(destination[36..], welcome.FragmentPayload);
        BinaryPrimitives.WriteUInt16BigEndian(destination[38..], 0);
        return WelcomeSize;
    }

    /// <summary>A WELCOME; its fragment payload must be 1124, the only one this version's layout allows.</summary>
    public static bool TryReadWelcome(ReadOnlySpan<byte> datagram, out UdpWelcome welcome)
    {
        welcome = default;
        if (!HasPrefix(datagram, DatagramType.Welcome, WelcomeSize, WelcomeSize))
        {
            return false;
        }

        ushort fragmentPayload = BinaryPrimitives.ReadUInt16BigEndian(datagram[36..]);
        if (fragmentPayload != FragmentPayload)
        {
            return false;
        }

        welcome = new UdpWelcome(
            BinaryPrimitives.ReadUInt64BigEndian(datagram[16..]),
            BinaryPrimitives.ReadInt64BigEndian(datagram[24..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[32..]),
            fragmentPayload);
        return true;
    }

    // ---- REFUSE ----

    /// <summary>
    /// Writes a REFUSE no larger than <paramref name="maxLength"/> (the HELLO's size: no amplification). Control
    /// characters in the text become spaces; the text is cut on a character boundary to fit and to 1024 bytes.
    /// </summary>
    public static int WriteRefuse(Span<byte> destination, ulong sessionId, in UdpRefuse refuse, int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, RefuseFixedSize);
        int room = Math.Min(Math.Min(maxLength, MaxDatagram), destination.Length) - RefuseFixedSize;
        WritePrefix(destination, DatagramType.Refuse, sessionId);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], refuse.Nonce);
        BinaryPrimitives.WriteUInt16BigEndian(destination[24..], (ushort)refuse.Code);
        int textLength = EncodeTruncated(MessageWriter.Printable(refuse.Text), destination[RefuseFixedSize..], Math.Min(room, MaxTextLength));
        BinaryPrimitives.WriteUInt16BigEndian(destination[26..], (ushort)textLength);
        return RefuseFixedSize + textLength;
    }

    public static bool TryReadRefuse(ReadOnlySpan<byte> datagram, out UdpRefuse refuse)
    {
        refuse = default;
        if (!HasPrefix(datagram, DatagramType.Refuse, RefuseFixedSize, MaxDatagram)
            || !TryReadText(datagram, 26, RefuseFixedSize, out string? text))
        {
            return false;
        }

        refuse = new UdpRefuse(BinaryPrimitives.ReadUInt64BigEndian(datagram[16..]), (ErrorCode)BinaryPrimitives.ReadUInt16BigEndian(datagram[24..]), text);
        return true;
    }

    // ---- FRAGMENT ----

    /// <summary>Writes a FRAGMENT: the header, then <paramref name="payload"/> (its length must be the header's).</summary>
    public static int WriteFragment(Span<byte> destination, ulong sessionId, in FragmentHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length != header.PayloadLength)
        {
            throw new ArgumentException($"The payload is {payload.Length} bytes; the header says {header.PayloadLength}.", nameof(payload));
        }

        int length = WriteFragmentHeader(destination, sessionId, header);
        payload.CopyTo(destination[FragmentHeaderSize..]);
        return length;
    }

    /// <summary>Writes only the 52-byte header; the caller places the payload right after it. Returns the datagram's length.</summary>
    public static int WriteFragmentHeader(Span<byte> destination, ulong sessionId, in FragmentHeader header)
    {
        if (header.PayloadLength > FragmentPayload)
        {
            throw new ArgumentException($"A fragment payload is at most {FragmentPayload} bytes.", nameof(header));
        }

        WritePrefix(destination, DatagramType.Fragment, sessionId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], header.FrameId);
        BinaryPrimitives.WriteUInt16BigEndian(destination[20..], header.Index);
        BinaryPrimitives.WriteUInt16BigEndian(destination[22..], header.DataCount);
        destination[24] = header.Group;
        destination[25] = (byte)header.Codec;
        BinaryPrimitives.WriteUInt16BigEndian(destination[26..], header.Width);
        BinaryPrimitives.WriteUInt16BigEndian(destination[28..], header.Height);
        BinaryPrimitives.WriteUInt16BigEndian(destination[30..], header.PayloadLength);
        BinaryPrimitives.WriteUInt32BigEndian(destination[32..], header.TotalLength);
        BinaryPrimitives.WriteInt64BigEndian(destination[36..], header.Sequence);
        BinaryPrimitives.WriteInt64BigEndian(destination[44..], header.CaptureMicros);
        return FragmentHeaderSize + header.PayloadLength;
    }

    /// <summary>A FRAGMENT that is consistent in itself and whose frame is within <paramref name="maxFrameBytes"/>.</summary>
    public static bool TryReadFragment(ReadOnlySpan<byte> datagram, int maxFrameBytes, out FragmentHeader header, out ReadOnlySpan<byte> payload) =>
        ReadFragment(datagram, maxFrameBytes, out header, out payload) == FragmentReadResult.Ok;

    /// <summary>
    /// Reads a FRAGMENT and tells a malformed one from a well-formed one of a frame above <paramref name="maxFrameBytes"/>
    /// (a receiver counts those apart). Checks: exact size 52 + payload_len; data_count = max(1, ceil(total / 1124));
    /// index below data_count + parity_count; payload_len exact for data and parity; codec known; width and height
    /// 1..8192; raw BGR24 total = width × height × 3.
    /// </summary>
    public static FragmentReadResult ReadFragment(ReadOnlySpan<byte> datagram, int maxFrameBytes, out FragmentHeader header, out ReadOnlySpan<byte> payload)
    {
        header = default;
        payload = default;
        if (!HasPrefix(datagram, DatagramType.Fragment, FragmentHeaderSize, MaxDatagram))
        {
            return FragmentReadResult.Malformed;
        }

        uint frameId = BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]);
        ushort index = BinaryPrimitives.ReadUInt16BigEndian(datagram[20..]);
        ushort dataCount = BinaryPrimitives.ReadUInt16BigEndian(datagram[22..]);
        byte group = datagram[24];
        var codec = (CodecId)datagram[25];
        ushort width = BinaryPrimitives.ReadUInt16BigEndian(datagram[26..]);
        ushort height = BinaryPrimitives.ReadUInt16BigEndian(datagram[28..]);
        ushort payloadLength = BinaryPrimitives.ReadUInt16BigEndian(datagram[30..]);
        uint total = BinaryPrimitives.ReadUInt32BigEndian(datagram[32..]);
        if (datagram.Length != FragmentHeaderSize + payloadLength || dataCount != DataCount(total)
            || width is < 1 or > FrameLimits.MaxDimension || height is < 1 or > FrameLimits.MaxDimension)
        {
            return FragmentReadResult.Malformed;
        }

        switch (codec)
        {
            case CodecId.Jpeg or CodecId.H264:
                break;
            case CodecId.RawBgr24 when total == (long)width * height * 3:
                break;
            default:
                return FragmentReadResult.Malformed;
        }

        int parityCount = ParityCount(dataCount, group);
        if (index >= dataCount + parityCount || dataCount + parityCount > MaxFragmentsPerFrame)
        {
            return FragmentReadResult.Malformed;
        }

        int expected = index < dataCount ? DataPayloadLength(total, index) : ParityPayloadLength(total, group, index - dataCount);
        if (payloadLength != expected)
        {
            return FragmentReadResult.Malformed;
        }

        header = new FragmentHeader(
            frameId, index, dataCount, group, codec, width, height, payloadLength, total,
            BinaryPrimitives.ReadInt64BigEndian(datagram[36..]),
            BinaryPrimitives.ReadInt64BigEndian(datagram[44..]));
        payload = datagram[FragmentHeaderSize..];

        // Checked last so that only a fragment that is otherwise exact is reported as too large.
        return maxFrameBytes < 0 || total > (uint)maxFrameBytes ? FragmentReadResult.TooLarge : FragmentReadResult.Ok;
    }

    // ---- NACK ----

    public static int WriteNack(Span<byte> destination, ulong sessionId, in UdpNack nack) => WriteNack(destination, sessionId, nack.FrameId, nack.Indexes);

    /// <summary>Writes a NACK of 1..574 data indexes.</summary>
    public static int WriteNack(Span<byte> destination, ulong sessionId, uint frameId, ReadOnlySpan<ushort> indexes)
    {
        if (indexes.Length is < 1 or > MaxNackCount)
        {
            throw new ArgumentOutOfRangeException(nameof(indexes), indexes.Length, $"A NACK carries 1..{MaxNackCount} indexes.");
        }

        WritePrefix(destination, DatagramType.Nack, sessionId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], frameId);
        BinaryPrimitives.WriteUInt16BigEndian(destination[20..], (ushort)indexes.Length);
        BinaryPrimitives.WriteUInt16BigEndian(destination[22..], 0);
        for (int i = 0; i < indexes.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[(NackFixedSize + (2 * i))..], indexes[i]);
        }

        return NackFixedSize + (2 * indexes.Length);
    }

    /// <summary>
    /// A NACK without allocating: <paramref name="indexes"/> holds the big-endian indexes (2 bytes each; read them
    /// with <see cref="NackIndex"/>).
    /// </summary>
    public static bool TryReadNack(ReadOnlySpan<byte> datagram, out uint frameId, out ReadOnlySpan<byte> indexes)
    {
        frameId = 0;
        indexes = default;
        if (!HasPrefix(datagram, DatagramType.Nack, NackFixedSize + 2, NackFixedSize + (2 * MaxNackCount)))
        {
            return false;
        }

        int count = BinaryPrimitives.ReadUInt16BigEndian(datagram[20..]);
        if (count is < 1 or > MaxNackCount || datagram.Length != NackFixedSize + (2 * count))
        {
            return false;
        }

        frameId = BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]);
        indexes = datagram[NackFixedSize..];
        return true;
    }

    public static ushort NackIndex(ReadOnlySpan<byte> indexes, int i) => BinaryPrimitives.ReadUInt16BigEndian(indexes[(2 * i)..]);

    public static bool TryReadNack(ReadOnlySpan<byte> datagram, out UdpNack nack)
    {
        nack = default;
        if (!TryReadNack(datagram, out uint frameId, out ReadOnlySpan<byte> raw))
        {
            return false;
        }

        var indexes = new ushort[raw.Length / 2];
        for (int i = 0; i < indexes.Length; i++)
        {
            indexes[i] = NackIndex(raw, i);
        }

        nack = new UdpNack(frameId, indexes);
        return true;
    }

    // ---- REPORT ----

    public static int WriteReport(Span<byte> destination, ulong sessionId, in UdpReport report)
    {
        WritePrefix(destination, DatagramType.Report, sessionId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], report.FragmentsExpected);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], report.FragmentsLost);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], report.FramesCompleted);
        BinaryPrimitives.WriteUInt32BigEndian(destination[28..], report.FramesLost);
        BinaryPrimitives.WriteUInt32BigEndian(destination[32..], report.RttMicros);
        BinaryPrimitives.WriteUInt32BigEndian(destination[36..], 0);
        return ReportSize;
    }

    public static bool TryReadReport(ReadOnlySpan<byte> datagram, out UdpReport report)
    {
        report = default;
        if (!HasPrefix(datagram, DatagramType.Report, ReportSize, ReportSize))
        {
            return false;
        }

        uint expected = BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]);
        uint lost = BinaryPrimitives.ReadUInt32BigEndian(datagram[20..]);
        if (lost > expected)
        {
            // More fragments lost than expected cannot be a receiver's count; trusting it would skew the adaptation.
            return false;
        }

        report = new UdpReport(
            expected,
            lost,
            BinaryPrimitives.ReadUInt32BigEndian(datagram[24..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[28..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[32..]));
        return true;
    }

    // ---- KEYFRAME_REQUEST ----

    public static int WriteKeyframeRequest(Span<byte> destination, ulong sessionId, byte reason)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(reason, MaxKeyframeReason);
        WritePrefix(destination, DatagramType.KeyframeRequest, sessionId);
        destination[16] = reason;
        destination[17..KeyframeRequestSize].Clear();
        return KeyframeRequestSize;
    }

    /// <summary>Exactly 20 bytes with a known reason (0..2); the reserved bytes are ignored, as in the prefix.</summary>
    public static bool TryReadKeyframeRequest(ReadOnlySpan<byte> datagram, out byte reason)
    {
        reason = 0;
        if (!HasPrefix(datagram, DatagramType.KeyframeRequest, KeyframeRequestSize, KeyframeRequestSize) || datagram[16] > MaxKeyframeReason)
        {
            return false;
        }

        reason = datagram[16];
        return true;
    }

    // ---- DONE ----

    public static int WriteDone(Span<byte> destination, ulong sessionId, uint frameId)
    {
        WritePrefix(destination, DatagramType.Done, sessionId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], frameId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], 0);
        return DoneSize;
    }

    public static bool TryReadDone(ReadOnlySpan<byte> datagram, out uint frameId)
    {
        frameId = 0;
        if (!HasPrefix(datagram, DatagramType.Done, DoneSize, DoneSize))
        {
            return false;
        }

        frameId = BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]);
        return true;
    }

    // ---- PING / PONG ----

    public static int WritePing(Span<byte> destination, ulong sessionId, in PingMessage ping)
    {
        WritePrefix(destination, DatagramType.Ping, sessionId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], ping.Id);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], 0);
        BinaryPrimitives.WriteInt64BigEndian(destination[24..], ping.SentMicros);
        return PingSize;
    }

    public static bool TryReadPing(ReadOnlySpan<byte> datagram, out PingMessage ping)
    {
        ping = default;
        if (!HasPrefix(datagram, DatagramType.Ping, PingSize, PingSize))
        {
            return false;
        }

        ping = new PingMessage(BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]), BinaryPrimitives.ReadInt64BigEndian(datagram[24..]));
        return true;
    }

    public static int WritePong(Span<byte> destination, ulong sessionId, in PongMessage pong)
    {
        WritePrefix(destination, DatagramType.Pong, sessionId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], pong.Id);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], 0);
        BinaryPrimitives.WriteInt64BigEndian(destination[24..], pong.EchoSentMicros);
        BinaryPrimitives.WriteInt64BigEndian(destination[32..], pong.PeerTimeMicros);
        return PongSize;
    }

    public static bool TryReadPong(ReadOnlySpan<byte> datagram, out PongMessage pong)
    {
        pong = default;
        if (!HasPrefix(datagram, DatagramType.Pong, PongSize, PongSize))
        {
            return false;
        }

        pong = new PongMessage(
            BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]),
            BinaryPrimitives.ReadInt64BigEndian(datagram[24..]),
            BinaryPrimitives.ReadInt64BigEndian(datagram[32..]));
        return true;
    }

    // ---- SIGNAL / BYE ----

    /// <summary>SIGNAL; control characters in the text become spaces and it is cut to 1024 bytes on a character boundary.</summary>
    public static int WriteSignal(Span<byte> destination, ulong sessionId, in SignalMessage signal)
    {
        WritePrefix(destination, DatagramType.Signal, sessionId);
        destination[16] = signal.Live ? ProtocolConstants.SignalStateLive : ProtocolConstants.SignalStateNone;
        destination[17] = 0;
        int textLength = EncodeTruncated(MessageWriter.Printable(signal.Text), destination[SignalFixedSize..], MaxTextLength);
        BinaryPrimitives.WriteUInt16BigEndian(destination[18..], (ushort)textLength);
        return SignalFixedSize + textLength;
    }

    public static bool TryReadSignal(ReadOnlySpan<byte> datagram, out SignalMessage signal)
    {
        signal = default;
        if (!HasPrefix(datagram, DatagramType.Signal, SignalFixedSize, SignalFixedSize + MaxTextLength))
        {
            return false;
        }

        // Byte 17 is reserved and skipped unread, as in §1.4: a later version may put flags there.
        byte state = datagram[16];
        if (state is not (ProtocolConstants.SignalStateNone or ProtocolConstants.SignalStateLive)
            || !TryReadText(datagram, 18, SignalFixedSize, out string? text))
        {
            return false;
        }

        signal = new SignalMessage(state == ProtocolConstants.SignalStateLive, text);
        return true;
    }

    /// <summary>BYE (the session is over); the text is made printable and cut to 1024 bytes on a character boundary.</summary>
    public static int WriteBye(Span<byte> destination, ulong sessionId, in CloseMessage bye)
    {
        WritePrefix(destination, DatagramType.Bye, sessionId);
        BinaryPrimitives.WriteUInt16BigEndian(destination[16..], (ushort)bye.Code);
        int textLength = EncodeTruncated(MessageWriter.Printable(bye.Text), destination[ByeFixedSize..], MaxTextLength);
        BinaryPrimitives.WriteUInt16BigEndian(destination[18..], (ushort)textLength);
        return ByeFixedSize + textLength;
    }

    public static bool TryReadBye(ReadOnlySpan<byte> datagram, out CloseMessage bye)
    {
        bye = default;
        if (!HasPrefix(datagram, DatagramType.Bye, ByeFixedSize, ByeFixedSize + MaxTextLength)
            || !TryReadText(datagram, 18, ByeFixedSize, out string? text))
        {
            return false;
        }

        bye = new CloseMessage((ErrorCode)BinaryPrimitives.ReadUInt16BigEndian(datagram[16..]), text);
        return true;
    }

    // ---- helpers ----

    private static void WritePrefix(Span<byte> destination, DatagramType type, ulong sessionId)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, Magic);
        destination[4] = Version;
        destination[5] = (byte)type;
        destination[6] = 0;
        destination[7] = 0;
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], sessionId);
    }

    private static bool HasPrefix(ReadOnlySpan<byte> datagram, DatagramType type, int minLength, int maxLength) =>
        datagram.Length >= minLength && datagram.Length <= maxLength && datagram.Length >= PrefixSize
        && BinaryPrimitives.ReadUInt32BigEndian(datagram) == Magic && datagram[4] == Version && datagram[5] == (byte)type;

    /// <summary>The text that ends REFUSE, SIGNAL and BYE: its length at <paramref name="lengthAt"/>, exactly the rest of the datagram.</summary>
    private static bool TryReadText(ReadOnlySpan<byte> datagram, int lengthAt, int textAt, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? text)
    {
        text = null;
        int length = BinaryPrimitives.ReadUInt16BigEndian(datagram[lengthAt..]);
        if (length > MaxTextLength || datagram.Length != textAt + length)
        {
            return false;
        }

        return TryDecode(datagram.Slice(textAt, length), out text) && !text.Any(char.IsControl);
    }

    private static bool TryReadString8(ReadOnlySpan<byte> datagram, ref int offset, int max, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value)
    {
        value = null;
        if (offset >= datagram.Length)
        {
            return false;
        }

        int length = datagram[offset];
        if (length > max || datagram.Length - offset - 1 < length || !TryDecode(datagram.Slice(offset + 1, length), out value))
        {
            return false;
        }

        offset += 1 + length;
        return true;
    }

    private static bool TryDecode(ReadOnlySpan<byte> bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value)
    {
        // Validate first: the decoder's replacement character would silently accept bad UTF-8.
        value = Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : null;
        return value is not null;
    }

    private static int WriteString8(Span<byte> destination, string value, int max)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        if (length > max)
        {
            throw new ArgumentException($"'{value}' is {length} bytes in UTF-8; the limit is {max}.", nameof(value));
        }

        destination[0] = (byte)length;
        Encoding.UTF8.GetBytes(value, destination[1..]);
        return 1 + length;
    }

    private static int EncodeTruncated(string text, Span<byte> destination, int max)
    {
        // Whole characters only (Utf8 never splits one and reports "too small" instead of throwing), so the
        // receiver's strict UTF-8 check passes; a lone surrogate becomes U+FFFD.
        Utf8.FromUtf16(text, destination[..Math.Max(0, Math.Min(max, destination.Length))], out _, out int bytesWritten);
        return bytesWritten;
    }
}
