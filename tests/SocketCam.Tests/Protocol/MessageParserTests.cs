using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Protocol;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Protocol;

public sealed class MessageParserTests
{
    private const int MaxFrame = 1 << 20;

    public static TheoryData<string> MessageNames => ["hello", "hello-empty-token", "welcome", "frame-raw", "frame-jpeg", "signal-none", "signal-live", "ping", "pong", "error", "goodbye"];

    // ---- round trips -------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void Every_message_round_trips_through_writer_and_parser(string name)
    {
        (byte[] bytes, MessageType expectedType, Action<ReadOnlySequence<byte>> check) = Build(name);
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(MessageParser.TryReadMessage(ref buffer, MaxFrame, out MessageType type, out ReadOnlySequence<byte> payload));

        Assert.Equal(expectedType, type);
        Assert.Equal(bytes.Length - ProtocolConstants.MessageHeaderSize, payload.Length);
        Assert.True(buffer.IsEmpty);
        check(payload);
    }

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void Every_message_fed_one_byte_at_a_time_completes_exactly_once(string name)
    {
        (byte[] bytes, MessageType expectedType, Action<ReadOnlySequence<byte>> check) = Build(name);
        byte[][] singles = [.. bytes.Select(b => new[] { b })];
        for (int have = 0; have < bytes.Length; have++)
        {
            // Every byte in its own segment, as a pipe would hand them out after one-byte reads.
            ReadOnlySequence<byte> partial = SegmentedSequence.Create(singles[..have]);
            ReadOnlySequence<byte> before = partial;
            Assert.False(MessageParser.TryReadMessage(ref partial, MaxFrame, out _, out _), $"complete after only {have} of {bytes.Length} bytes");
            Assert.Equal(before.Length, partial.Length);
        }

        ReadOnlySequence<byte> whole = SegmentedSequence.Create(singles);
        Assert.True(MessageParser.TryReadMessage(ref whole, MaxFrame, out MessageType type, out ReadOnlySequence<byte> payload));
        Assert.Equal(expectedType, type);
        check(payload);
        Assert.True(whole.IsEmpty);
        Assert.False(MessageParser.TryReadMessage(ref whole, MaxFrame, out _, out _));
    }

    [Fact]
    public void Two_messages_back_to_back_come_out_one_at_a_time()
    {
        byte[] ping = Build("ping").Bytes;
        byte[] error = Build("error").Bytes;
        var buffer = new ReadOnlySequence<byte>([.. ping, .. error]);

        Assert.True(MessageParser.TryReadMessage(ref buffer, MaxFrame, out MessageType first, out _));
        Assert.Equal(MessageType.Ping, first);
        Assert.Equal(error.Length, buffer.Length);
        Assert.True(MessageParser.TryReadMessage(ref buffer, MaxFrame, out MessageType second, out ReadOnlySequence<byte> payload));
        Assert.Equal(MessageType.Error, second);
        Assert.Equal(ErrorCode.BadFrame, MessageParser.ParseClose(payload).Code);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void Preface_fed_one_byte_at_a_time_completes_only_at_eight_bytes()
    {
        byte[] preface = RawPeer.Preface();
        byte[] next = Build("ping").Bytes;
        byte[] stream = [.. preface, .. next];
        for (int have = 0; have < preface.Length; have++)
        {
            ReadOnlySequence<byte> partial = SegmentedSequence.Create([.. stream[..have].Select(b => new[] { b })]);
            Assert.False(MessageParser.TryReadPreface(ref partial), $"preface complete after {have} bytes");
            Assert.Equal(have, partial.Length);
        }

        ReadOnlySequence<byte> whole = SegmentedSequence.Create([.. stream.Select(b => new[] { b })]);
        Assert.True(MessageParser.TryReadPreface(ref whole));
        Assert.Equal(next.Length, whole.Length);
        Assert.True(MessageParser.TryReadMessage(ref whole, MaxFrame, out MessageType type, out _));
        Assert.Equal(MessageType.Ping, type);
    }

    [Fact]
    public void Small_video_frame_split_into_segments_at_every_point_parses_the_same()
    {
        byte[] pixels = [.. Enumerable.Range(0, 2 * 2 * 3).Select(i => (byte)(i * 17))];
        byte[] bytes = RawPeer.FrameMessage(CodecId.RawBgr24, 2, 2, 123456789012, pixels, captureMicros: -42);
        int checkedSplits = 0;

        for (int i = 0; i <= bytes.Length; i++)
        {
            Check(SegmentedSequence.Split(bytes, i));
            for (int j = i; j <= bytes.Length; j++)
            {
                Check(SegmentedSequence.Split(bytes, i, j));
            }
        }

        // Also every two-byte and every three-byte chunking.
        Check(SegmentedSequence.Create([.. bytes.Chunk(2)]));
        Check(SegmentedSequence.Create([.. bytes.Chunk(3)]));
        Assert.True(checkedSplits > bytes.Length * bytes.Length / 2);

        void Check(ReadOnlySequence<byte> buffer)
        {
            Assert.True(MessageParser.TryReadMessage(ref buffer, MaxFrame, out MessageType type, out ReadOnlySequence<byte> payload));
            Assert.Equal(MessageType.VideoFrame, type);
            Assert.True(buffer.IsEmpty);
            VideoFrameHeader header = MessageParser.ParseVideoFrame(payload, out ReadOnlySequence<byte> data);
            Assert.Equal(new VideoFrameHeader(CodecId.RawBgr24, 2, 2, 123456789012, -42), header);
            Assert.Equal(pixels, data.ToArray());
            checkedSplits++;
        }
    }

    [Fact]
    public void Close_text_longer_than_the_limit_is_cut_on_a_character_boundary()
    {
        string text = string.Concat(Enumerable.Repeat("é€", 1000)); // 2- and 3-byte UTF-8 characters
        byte[] buffer = new byte[MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WriteClose(buffer, MessageType.Error, ErrorCode.Malformed, text);
        var sequence = new ReadOnlySequence<byte>(buffer, 0, length);

        Assert.True(MessageParser.TryReadMessage(ref sequence, MaxFrame, out _, out ReadOnlySequence<byte> payload));
        CloseMessage close = MessageParser.ParseClose(payload);

        Assert.Equal(ErrorCode.Malformed, close.Code);
        Assert.True(Encoding.UTF8.GetByteCount(close.Text) <= ProtocolConstants.MaxErrorTextLength);
        Assert.True(close.Text.Length > 300);
        Assert.StartsWith(close.Text, text, StringComparison.Ordinal);
    }

    // ---- preface errors ----------------------------------------------------------------------------------------

    [Theory]
    [InlineData("G")]
    [InlineData("GE")]
    [InlineData("GET")]
    [InlineData("GET ")]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("X")]
    [InlineData("SCAX")]
    [InlineData("SX")]
    [InlineData("scam\u0000\u0001\u0000\u0000")]
    public void Wrong_magic_is_refused_as_soon_as_a_byte_differs(string text)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(text);
        foreach (ReadOnlySequence<byte> sequence in new[] { new ReadOnlySequence<byte>(bytes), SegmentedSequence.Create([.. bytes.Select(b => new[] { b })]) })
        {
            ReadOnlySequence<byte> buffer = sequence;
            ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.TryReadPreface(ref buffer));
            Assert.Equal(ErrorCode.BadMagic, ex.Code);
        }
    }

    [Theory]
    [InlineData("S")]
    [InlineData("SC")]
    [InlineData("SCA")]
    [InlineData("SCAM")]
    public void A_correct_partial_magic_just_needs_more(string text)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text));
        Assert.False(MessageParser.TryReadPreface(ref buffer));
        Assert.Equal(text.Length, buffer.Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(0x0100)]
    [InlineData(0xFFFF)]
    public void Wrong_version_is_unsupported(int version)
    {
        var buffer = new ReadOnlySequence<byte>(RawPeer.Preface((ushort)version));
        ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.TryReadPreface(ref buffer));
        Assert.Equal(ErrorCode.UnsupportedVersion, ex.Code);
    }

    [Fact]
    public void Reserved_preface_bytes_are_ignored()
    {
        byte[] preface = RawPeer.Preface();
        preface[6] = 0xAB;
        preface[7] = 0xCD;
        var buffer = new ReadOnlySequence<byte>(preface);
        Assert.True(MessageParser.TryReadPreface(ref buffer));
        Assert.True(buffer.IsEmpty);
    }

    // ---- framing errors ----------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x03)]
    [InlineData(0x12)]
    [InlineData(0x22)]
    [InlineData(0x7F)]
    [InlineData(0xFF)]
    public void Unknown_type_is_malformed_from_the_header_alone(int type)
    {
        var buffer = new ReadOnlySequence<byte>(Header((MessageType)type, 0));
        ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.TryReadMessage(ref buffer, MaxFrame, out _, out _));
        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Theory]
    [InlineData(0x01, 1024)] // HELLO
    [InlineData(0x02, 1024)] // WELCOME
    [InlineData(0x20, 16)] // PING
    [InlineData(0x21, 24)] // PONG
    [InlineData(0x30, 1028)] // ERROR
    [InlineData(0x31, 1028)] // GOODBYE
    [InlineData(0x11, 1028)] // SIGNAL
    [InlineData(0x10, 24 + 1000)] // VIDEO_FRAME with a 1000-byte frame cap
    public void Length_over_the_cap_is_too_large_before_the_payload_arrives(int typeByte, long cap)
    {
        var type = (MessageType)typeByte;
        // Only the 8-byte header: the parser must not wait for (or ask the caller to buffer) the payload.
        var over = new ReadOnlySequence<byte>(Header(type, (uint)(cap + 1)));
        ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.TryReadMessage(ref over, maxFrameBytes: 1000, out _, out _));
        Assert.Equal(ErrorCode.TooLarge, ex.Code);

        var huge = new ReadOnlySequence<byte>(Header(type, uint.MaxValue));
        ex = Assert.Throws<ProtocolException>(() => MessageParser.TryReadMessage(ref huge, maxFrameBytes: 1000, out _, out _));
        Assert.Equal(ErrorCode.TooLarge, ex.Code);

        // Exactly the cap is allowed: it just needs the payload.
        var atCap = new ReadOnlySequence<byte>(Header(type, (uint)cap));
        Assert.False(MessageParser.TryReadMessage(ref atCap, maxFrameBytes: 1000, out _, out _));
        Assert.Equal(8, atCap.Length);
    }

    [Fact]
    public void Default_frame_cap_is_16_MiB_plus_the_frame_header()
    {
        var atCap = new ReadOnlySequence<byte>(Header(MessageType.VideoFrame, 24 + (16u << 20)));
        Assert.False(MessageParser.TryReadMessage(ref atCap, 16 << 20, out _, out _));
        var over = new ReadOnlySequence<byte>(Header(MessageType.VideoFrame, 24 + (16u << 20) + 1));
        Assert.Equal(ErrorCode.TooLarge, Assert.Throws<ProtocolException>(() => MessageParser.TryReadMessage(ref over, 16 << 20, out _, out _)).Code);
    }

    // ---- HELLO validation --------------------------------------------------------------------------------------

    [Fact]
    public void Hello_with_longest_fields_parses()
    {
        string room = new('r', 64);
        string token = new('t', 255);
        string agent = new('a', 64);
        HelloMessage hello = MessageParser.ParseHello(Seq(HelloPayload(2, Encoding.UTF8.GetBytes(room), Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(agent))));
        Assert.Equal(new HelloMessage(PeerRole.Viewer, room, token, agent), hello);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("room/../etc")]
    [InlineData("räum")]
    [InlineData("main\n")]
    [InlineData("ma:in")]
    [InlineData("🎥")]
    public void Hello_with_a_bad_room_name_is_malformed(string room)
    {
        byte[] payload = HelloPayload(2, Encoding.UTF8.GetBytes(room), [], []);
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParser.ParseHello(Seq(payload))).Code);
    }

    [Theory]
    [InlineData("room", 65)]
    [InlineData("agent", 65)]
    [InlineData("agent", 255)]
    public void Hello_with_an_over_long_field_is_malformed(string field, int length)
    {
        byte[] longValue = [.. Enumerable.Repeat((byte)'x', length)];
        byte[] payload = field == "room"
            ? HelloPayload(2, longValue, [], [])
            : HelloPayload(2, "main"u8.ToArray(), [], longValue);
        ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.ParseHello(Seq(payload)));
        Assert.Equal(ErrorCode.Malformed, ex.Code);
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("room")]
    [InlineData("token")]
    [InlineData("agent")]
    public void Hello_with_invalid_utf8_is_malformed(string field)
    {
        byte[] bad = [0x61, 0xC3, 0x28, 0x62]; // 0xC3 starts a 2-byte sequence; 0x28 is not a continuation byte
        byte[] payload = field switch
        {
            "room" => HelloPayload(2, bad, [], []),
            "token" => HelloPayload(2, "main"u8.ToArray(), bad, []),
            _ => HelloPayload(2, "main"u8.ToArray(), [], bad),
        };
        ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.ParseHello(Seq(payload)));
        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Fact]
    public void Hello_with_trailing_bytes_is_malformed()
    {
        byte[] payload = [.. HelloPayload(1, "main"u8.ToArray(), "t"u8.ToArray(), "a"u8.ToArray()), 0];
        ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.ParseHello(Seq(payload)));
        Assert.Equal(ErrorCode.Malformed, ex.Code);
        Assert.Contains("trailing", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(255)]
    public void Hello_with_an_unknown_role_is_malformed(int role)
    {
        byte[] payload = HelloPayload((byte)role, "main"u8.ToArray(), [], []);
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParser.ParseHello(Seq(payload))).Code);
    }

    [Fact]
    public void Hello_that_ends_inside_or_before_a_field_is_malformed()
    {
        byte[] whole = HelloPayload(2, "main"u8.ToArray(), "secret"u8.ToArray(), "agent"u8.ToArray());
        for (int cut = 0; cut < whole.Length; cut++)
        {
            byte[] truncated = whole[..cut];
            ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.ParseHello(Seq(truncated)));
            Assert.Equal(ErrorCode.Malformed, ex.Code);
        }

        Assert.Equal("secret", MessageParser.ParseHello(Seq(whole)).Token);
    }

    // ---- VIDEO_FRAME validation --------------------------------------------------------------------------------

    [Theory]
    [InlineData(47)]
    [InlineData(49)]
    [InlineData(0)]
    [InlineData(4)]
    public void Raw_frame_with_the_wrong_data_length_is_a_bad_frame(int dataLength)
    {
        byte[] message = RawPeer.FrameMessage(CodecId.RawBgr24, 4, 4, 1, new byte[dataLength]);
        Assert.Equal(ErrorCode.BadFrame, ParseFrameMessage(message).Code);
    }

    [Theory]
    [InlineData(0, 240)]
    [InlineData(320, 0)]
    [InlineData(9000, 240)]
    [InlineData(320, 9000)]
    [InlineData(8193, 1)]
    [InlineData(65535, 65535)]
    public void Frame_size_outside_1_to_8192_is_a_bad_frame(int width, int height)
    {
        byte[] message = RawPeer.FrameMessage(CodecId.Jpeg, 1, 1, 1, [0xFF, 0xD8, 0xFF, 0xD9]);
        // Patch the size in the frame header (the writer itself refuses nothing here, but be explicit).
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(8 + 2), (ushort)width);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(8 + 4), (ushort)height);
        Assert.Equal(ErrorCode.BadFrame, ParseFrameMessage(message).Code);
    }

    [Fact]
    public void Largest_frame_size_8192_is_accepted_by_the_header_check()
    {
        VideoFrameHeader header = MessageParser.ParseVideoFrameHeader(FrameHeaderBytes(CodecId.Jpeg, 8192, 8192), dataLength: 100);
        Assert.Equal(8192, header.Width);
        Assert.Equal(8192, header.Height);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(255)]
    public void Unknown_codec_is_a_bad_frame(int codec)
    {
        byte[] message = RawPeer.FrameMessage((CodecId)codec, 2, 2, 1, new byte[12]);
        Assert.Equal(ErrorCode.BadFrame, ParseFrameMessage(message).Code);
    }

    [Fact]
    public void Jpeg_frame_without_data_is_a_bad_frame()
    {
        Assert.Equal(ErrorCode.BadFrame, ParseFrameMessage(RawPeer.FrameMessage(CodecId.Jpeg, 2, 2, 1, [])).Code);
        Assert.Equal(ErrorCode.BadFrame, ParseFrameMessage(RawPeer.FrameMessage(CodecId.Jpeg, 2, 2, 1, [0xFF, 0xD8, 0xFF])).Code);
    }

    [Fact]
    public void Frame_payload_shorter_than_its_24_byte_header_is_malformed()
    {
        for (int length = 0; length < 24; length++)
        {
            ReadOnlySequence<byte> payload = Seq(new byte[length]);
            ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.ParseVideoFrame(payload, out _));
            Assert.Equal(ErrorCode.Malformed, ex.Code);
        }
    }

    // ---- PING / PONG / WELCOME / ERROR -------------------------------------------------------------------------

    [Theory]
    [InlineData("ping", 0)]
    [InlineData("ping", 8)]
    [InlineData("ping", 15)]
    [InlineData("ping", 17)]
    [InlineData("pong", 0)]
    [InlineData("pong", 16)]
    [InlineData("pong", 23)]
    [InlineData("pong", 25)]
    [InlineData("welcome", 19)]
    [InlineData("welcome", 21)]
    public void Truncated_or_padded_fixed_size_messages_are_malformed(string type, int length)
    {
        ReadOnlySequence<byte> payload = Seq(new byte[length]);
        Action parse = type switch
        {
            "ping" => () => MessageParser.ParsePing(payload),
            "pong" => () => MessageParser.ParsePong(payload),
            _ => () => MessageParser.ParseWelcome(payload),
        };
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(parse).Code);
    }

    [Fact]
    public void Truncated_ping_message_waits_for_its_last_byte()
    {
        byte[] ping = Build("ping").Bytes;
        var buffer = new ReadOnlySequence<byte>(ping[..^1]);
        Assert.False(MessageParser.TryReadMessage(ref buffer, MaxFrame, out _, out _));
    }

    [Theory]
    [InlineData(10, 5)]
    [InlineData(5, 10)]
    [InlineData(1, 0)]
    [InlineData(0, 1)]
    [InlineData(1025, 1025)]
    [InlineData(65535, 3)]
    public void Close_text_length_that_does_not_match_is_malformed(int declared, int actual)
    {
        byte[] payload = new byte[4 + actual];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)ErrorCode.BadFrame);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), (ushort)declared);
        payload.AsSpan(4).Fill((byte)'x');
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParser.ParseClose(Seq(payload))).Code);
    }

    [Fact]
    public void Close_shorter_than_its_fixed_part_or_with_invalid_utf8_is_malformed()
    {
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParser.ParseClose(Seq([0, 3, 0]))).Code);
        byte[] badText = [0, 3, 0, 2, 0xC3, 0x28];
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParser.ParseClose(Seq(badText))).Code);
    }

    // ---- SIGNAL ------------------------------------------------------------------------------------------------

    [Fact]
    public void Signal_split_into_segments_at_every_point_parses_the_same()
    {
        byte[] bytes = Build("signal-none").Bytes;
        for (int i = 0; i <= bytes.Length; i++)
        {
            for (int j = i; j <= bytes.Length; j++)
            {
                ReadOnlySequence<byte> buffer = SegmentedSequence.Split(bytes, i, j);
                Assert.True(MessageParser.TryReadMessage(ref buffer, MaxFrame, out MessageType type, out ReadOnlySequence<byte> payload));
                Assert.Equal(MessageType.Signal, type);
                Assert.True(buffer.IsEmpty);
                Assert.Equal(new SignalMessage(false, "ffmpeg exited with code 1: /dev/video0: No such device ✗"), MessageParser.ParseSignal(payload));
            }
        }
    }

    [Fact]
    public void Signal_wire_layout_is_state_reserved_length_text()
    {
        byte[] buffer = new byte[MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WriteSignal(buffer, new SignalMessage(false, "gone"));
        Assert.Equal([0x11, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 4, (byte)'g', (byte)'o', (byte)'n', (byte)'e'], buffer[..length]);
        length = MessageWriter.WriteSignal(buffer, new SignalMessage(true, ""));
        Assert.Equal([0x11, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0], buffer[..length]);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(0x80)]
    [InlineData(255)]
    public void Signal_with_a_state_other_than_0_or_1_is_malformed(int state)
    {
        byte[] payload = SignalPayload((byte)state, 0, "x"u8.ToArray());
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParser.ParseSignal(Seq(payload))).Code);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0xFF)]
    public void Signal_reserved_byte_is_ignored(int reserved)
    {
        byte[] payload = SignalPayload(0, (byte)reserved, "unplugged"u8.ToArray());
        Assert.Equal(new SignalMessage(false, "unplugged"), MessageParser.ParseSignal(Seq(payload)));
    }

    [Fact]
    public void Signal_shorter_than_its_fixed_part_is_malformed()
    {
        for (int length = 0; length < 4; length++)
        {
            ReadOnlySequence<byte> payload = Seq(new byte[length]);
            Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParser.ParseSignal(payload)).Code);
        }
    }

    [Theory]
    [InlineData(10, 5)]
    [InlineData(5, 10)]
    [InlineData(0, 1)]
    [InlineData(1025, 1025)] // longer than 1 KiB of text, even though the length field matches
    [InlineData(65535, 3)]
    public void Signal_text_length_that_does_not_match_or_is_too_long_is_malformed(int declared, int actual)
    {
        byte[] payload = SignalPayload(0, 0, [.. Enumerable.Repeat((byte)'x', actual)]);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), (ushort)declared);
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParser.ParseSignal(Seq(payload))).Code);
    }

    [Fact]
    public void Signal_with_1024_bytes_of_text_parses()
    {
        byte[] text = [.. Enumerable.Repeat((byte)'x', 1024)];
        Assert.Equal(new SignalMessage(true, new string('x', 1024)), MessageParser.ParseSignal(Seq(SignalPayload(1, 0, text))));
    }

    [Theory]
    [InlineData("no device\nFAKE LOG LINE")]
    [InlineData("frame=  12\r")]
    [InlineData("a\u0000b")]
    [InlineData("\u001b[31mred")]
    [InlineData("tab\there")]
    public void Signal_text_with_control_characters_is_malformed(string text)
    {
        byte[] payload = SignalPayload(0, 0, Encoding.UTF8.GetBytes(text));
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParser.ParseSignal(Seq(payload))).Code);
    }

    [Fact]
    public void Signal_text_with_invalid_utf8_is_malformed()
    {
        byte[] payload = SignalPayload(0, 0, [0x61, 0xC3, 0x28]);
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParser.ParseSignal(Seq(payload))).Code);
    }

    [Fact]
    public void Signal_writer_turns_control_characters_into_spaces_and_cuts_long_text_on_a_character_boundary()
    {
        byte[] buffer = new byte[MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WriteSignal(buffer, new SignalMessage(false, "\u001b[31mNo such device\r\n"));
        Assert.Equal(new SignalMessage(false, " [31mNo such device  "), MessageParser.ParseSignal(Seq(buffer[8..length])));

        string text = string.Concat(Enumerable.Repeat("é€", 1000));
        length = MessageWriter.WriteSignal(buffer, new SignalMessage(false, text));
        SignalMessage cut = MessageParser.ParseSignal(Seq(buffer[8..length]));
        Assert.True(Encoding.UTF8.GetByteCount(cut.Text) <= ProtocolConstants.MaxSignalTextLength);
        Assert.True(cut.Text.Length > 300);
        Assert.StartsWith(cut.Text, text, StringComparison.Ordinal);
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static (byte[] Bytes, MessageType Type, Action<ReadOnlySequence<byte>> Check) Build(string name)
    {
        byte[] b = new byte[MessageWriter.MaxControlMessageSize];
        switch (name)
        {
            case "hello":
            {
                var hello = new HelloMessage(PeerRole.Publisher, "cam-1.front_door", "s3cret ✓", "socketcam/1.0 test é");
                int n = MessageWriter.WriteHello(b, hello);
                return (b[..n], MessageType.Hello, p => Assert.Equal(hello, MessageParser.ParseHello(p)));
            }

            case "hello-empty-token":
            {
                var hello = new HelloMessage(PeerRole.Viewer, "main", "", "");
                int n = MessageWriter.WriteHello(b, hello);
                return (b[..n], MessageType.Hello, p => Assert.Equal(hello, MessageParser.ParseHello(p)));
            }

            case "welcome":
            {
                var welcome = new WelcomeMessage(0xFEDCBA9876543210, -1234567890123, 16u << 20);
                int n = MessageWriter.WriteWelcome(b, welcome);
                return (b[..n], MessageType.Welcome, p => Assert.Equal(welcome, MessageParser.ParseWelcome(p)));
            }

            case "frame-raw":
            {
                byte[] pixels = [.. Enumerable.Range(0, 3 * 2 * 3).Select(i => (byte)(255 - i))];
                var header = new VideoFrameHeader(CodecId.RawBgr24, 3, 2, long.MaxValue, long.MinValue);
                byte[] message = RawPeer.FrameMessage(header.Codec, header.Width, header.Height, header.Sequence, pixels, header.CaptureMicros);
                return (message, MessageType.VideoFrame, p =>
                {
                    Assert.Equal(header, MessageParser.ParseVideoFrame(p, out ReadOnlySequence<byte> data));
                    Assert.Equal(pixels, data.ToArray());
                });
            }

            case "frame-jpeg":
            {
                byte[] jpeg = [0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9];
                var header = new VideoFrameHeader(CodecId.Jpeg, 8192, 1, 7, 1_700_000_000_000_000);
                byte[] message = RawPeer.FrameMessage(header.Codec, header.Width, header.Height, header.Sequence, jpeg, header.CaptureMicros);
                return (message, MessageType.VideoFrame, p =>
                {
                    Assert.Equal(header, MessageParser.ParseVideoFrame(p, out ReadOnlySequence<byte> data));
                    Assert.Equal(jpeg, data.ToArray());
                });
            }

            case "signal-none":
            {
                var signal = new SignalMessage(false, "ffmpeg exited with code 1: /dev/video0: No such device ✗");
                int n = MessageWriter.WriteSignal(b, signal);
                return (b[..n], MessageType.Signal, p => Assert.Equal(signal, MessageParser.ParseSignal(p)));
            }

            case "signal-live":
            {
                var signal = new SignalMessage(true, "");
                int n = MessageWriter.WriteSignal(b, signal);
                return (b[..n], MessageType.Signal, p => Assert.Equal(signal, MessageParser.ParseSignal(p)));
            }

            case "ping":
            {
                var ping = new PingMessage(0xDEADBEEF, -5);
                int n = MessageWriter.WritePing(b, ping);
                return (b[..n], MessageType.Ping, p => Assert.Equal(ping, MessageParser.ParsePing(p)));
            }

            case "pong":
            {
                var pong = new PongMessage(uint.MaxValue, long.MinValue, long.MaxValue);
                int n = MessageWriter.WritePong(b, pong);
                return (b[..n], MessageType.Pong, p => Assert.Equal(pong, MessageParser.ParsePong(p)));
            }

            case "error":
            {
                int n = MessageWriter.WriteClose(b, MessageType.Error, ErrorCode.BadFrame, "Corrupt JPEG ✗");
                return (b[..n], MessageType.Error, p => Assert.Equal(new CloseMessage(ErrorCode.BadFrame, "Corrupt JPEG ✗"), MessageParser.ParseClose(p)));
            }

            case "goodbye":
            {
                int n = MessageWriter.WriteClose(b, MessageType.Goodbye, ErrorCode.Normal, "");
                return (b[..n], MessageType.Goodbye, p => Assert.Equal(new CloseMessage(ErrorCode.Normal, ""), MessageParser.ParseClose(p)));
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(name), name, null);
        }
    }

    private static ProtocolException ParseFrameMessage(byte[] message)
    {
        var buffer = new ReadOnlySequence<byte>(message);
        Assert.True(MessageParser.TryReadMessage(ref buffer, MaxFrame, out MessageType type, out ReadOnlySequence<byte> payload));
        Assert.Equal(MessageType.VideoFrame, type);
        return Assert.Throws<ProtocolException>(() => MessageParser.ParseVideoFrame(payload, out _));
    }

    private static byte[] FrameHeaderBytes(CodecId codec, int width, int height)
    {
        byte[] message = RawPeer.FrameMessage(codec, width, height, 0, []);
        return message[8..];
    }

    [Theory]
    [InlineData("view\nFAKE LOG LINE")]
    [InlineData("view\r")]
    [InlineData("a\u0000b")]
    [InlineData("\u001b[31mred")]
    public void Hello_agent_with_control_characters_is_malformed(string agent)
    {
        byte[] payload = HelloPayload(2, "main"u8.ToArray(), [], Encoding.UTF8.GetBytes(agent));
        ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.ParseHello(Seq(payload)));
        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Theory]
    [InlineData("bye\nFAKE LOG LINE")]
    [InlineData("bye\r")]
    [InlineData("a\u0000b")]
    [InlineData("\u001b[31mred")]
    [InlineData("tab\there")]
    public void Close_text_with_control_characters_is_malformed(string text)
    {
        byte[] textBytes = Encoding.UTF8.GetBytes(text);
        byte[] payload = new byte[4 + textBytes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)ErrorCode.Normal);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), (ushort)textBytes.Length);
        textBytes.CopyTo(payload.AsSpan(4));
        ProtocolException ex = Assert.Throws<ProtocolException>(() => MessageParser.ParseClose(Seq(payload)));
        Assert.Equal(ErrorCode.Malformed, ex.Code);
    }

    [Fact]
    public void Close_text_without_control_characters_parses()
    {
        byte[] buffer = new byte[MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WriteClose(buffer, MessageType.Error, ErrorCode.TooLarge, "Zu groß: 17 MiB — ok");
        CloseMessage close = MessageParser.ParseClose(Seq(buffer[8..length]));
        Assert.Equal(ErrorCode.TooLarge, close.Code);
        Assert.Equal("Zu groß: 17 MiB — ok", close.Text);
    }

    private static byte[] Header(MessageType type, uint length)
    {
        byte[] header = new byte[8];
        header[0] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), length);
        return header;
    }

    /// <summary>A HELLO payload with the given raw field bytes; each length byte is the field's real length.</summary>
    private static byte[] HelloPayload(byte role, byte[] room, byte[] token, byte[] agent) =>
        [role, (byte)room.Length, .. room, (byte)token.Length, .. token, (byte)agent.Length, .. agent];

    /// <summary>A SIGNAL payload whose text_len is the real length of <paramref name="text"/>.</summary>
    private static byte[] SignalPayload(byte state, byte reserved, byte[] text) =>
        [state, reserved, (byte)(text.Length >> 8), (byte)text.Length, .. text];

    private static ReadOnlySequence<byte> Seq(byte[] bytes) => new(bytes);
}
