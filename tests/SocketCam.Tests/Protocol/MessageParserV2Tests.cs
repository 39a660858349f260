using System.Buffers;
using System.Buffers.Binary;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Protocol;

/// <summary>
/// Protocol v2 (docs/PROTOCOL.md Part II) without sockets: <see cref="MessageWriterV2"/> against the worked example's
/// bytes (§4.14) and back through <see cref="MessageParserV2"/>; the snapshot's chunking; framing (need more at every
/// split, skipping unknown optional types, every cap checked from the header alone).
/// </summary>
public sealed class MessageParserV2Tests
{
    private const int MaxFrame = 1 << 20;

    private static readonly TrackDescription UsbCamera = new(1, TrackKind.Video, CodecId.Jpeg, TrackSource.Camera, "USB Camera", 640, 480, 30000);
    private static readonly ParticipantRecord Alice = new(1, ParticipantTransport.Tcp, ParticipantFlags.None, 1796205600001234, "Alice");
    private static readonly ParticipantRecord Bob = new(2, ParticipantTransport.Tcp, ParticipantFlags.None, 1796205602001234, "Bob");

    // ---- the worked example (§4.14), byte for byte, and back ---------------------------------------------------

    public static TheoryData<string> ExampleMessages => ["join", "welcome", "publish", "track-published", "result", "participant-joined", "snapshot", "subscribe"];

    [Theory]
    [MemberData(nameof(ExampleMessages))]
    public void The_worked_examples_messages_are_written_byte_for_byte_and_parse_back_to_what_was_written(string name)
    {
        (byte[] written, string expectedHex, MessageType expectedType, Action<byte[]> check) = Example(name);

        Assert.Equal(Convert.FromHexString(expectedHex.Replace(" ", "", StringComparison.Ordinal)), written);
        var buffer = new ReadOnlySequence<byte>(written);
        Assert.Equal(V2Read.Message, MessageParserV2.TryReadMessage(ref buffer, MaxFrame, out MessageType type, out ReadOnlySequence<byte> payload));
        Assert.Equal(expectedType, type);
        Assert.True(buffer.IsEmpty);
        check(payload.ToArray());
    }

    [Fact]
    public void The_worked_examples_frame_header_is_written_byte_for_byte_and_parsed_back()
    {
        var info = new FrameInfo(TrackKind.Video, CodecId.Jpeg, FrameFlags.Keyframe, 640, 480, 1, 1796205602501234);
        byte[] header = new byte[40];

        MessageWriterV2.WriteFrameHeader(header, 0, 1, info, 23456);

        Assert.Equal(Convert.FromHexString("1200000000005bc0" + "00000000" + "0001" + "0101" + "0100" + "0000" + "028001e0" + "0000000000000001" + "000661a3b4e17272"), header);
        FrameInfo parsed = MessageParserV2.ParseFrameHeader(header.AsSpan(8), 32 + 23456, out uint participantId, out ushort trackId, out int dataOffset);
        Assert.Equal(info, parsed);
        Assert.Equal((0u, (ushort)1, 32), (participantId, trackId, dataOffset));
    }

    private static (byte[] Written, string Hex, MessageType Type, Action<byte[]> Check) Example(string name)
    {
        var track = new TrackRecord(1, true, UsbCamera, "");
        const string trackHex = "002d 0100 00000001 0001 01010100 028001e0 0000 00007530 00000000 00000000 0a5553422043616d657261 0000";
        switch (name)
        {
            case "join":
                var join = new JoinMessage(0, false, "call", "Alice", "s3cret", "socketcam/2.0");
                return (MessageWriterV2.Join(join), "030000000000002b 0000000000000000 0000 0463616c6c 05416c696365 0006733363726574 0d736f636b657463616d2f322e30", MessageType.Join,
                    p => Assert.Equal(join, MessageParserV2.ParseJoin(p)));
            case "welcome":
                var welcome = new WelcomeV2Message(0x9e3779b97f4a7c15, 1796205600001234, 16 << 20, 1, 0x6a09e667f3bcc908, 0, 3, 16, 64, 64, 64, 16, 500, 1024, 1 << 20);
                return (MessageWriterV2.Welcome(welcome), "0200000000000040 9e3779b97f4a7c15 000661a3b4bb4cd2 01000000 00000001 6a09e667f3bcc908 0000000000000000 00000003 001000400040 00400010 01f4 00000400 00100000", MessageType.Welcome,
                    p => Assert.Equal(welcome, MessageParserV2.ParseWelcome(p)));
            case "publish":
                return (MessageWriterV2.Publish(1, UsbCamera), "5000000000000027 00000001 0001 01010100 028001e0 0000 00007530 00000000 00000000 0a5553422043616d657261", MessageType.Publish,
                    p => Assert.Equal((1u, UsbCamera), MessageParserV2.ParsePublish(p)));
            case "track-published":
                return (MessageWriterV2.TrackPublished(2, track), "4300000000000035 0000000000000002 " + trackHex, MessageType.TrackPublished,
                    p => Assert.Equal(new TrackPublishedEvent(2, track), MessageParserV2.ParseEvent((byte)MessageType.TrackPublished, p)));
            case "result":
                var result = new ResultMessage(1, ErrorCode.Normal, 0, "");
                return (MessageWriterV2.Result(result), "040000000000000c 00000001 0000 0000 00000000", MessageType.Result,
                    p => Assert.Equal(result, MessageParserV2.ParseResult(p)));
            case "participant-joined":
                return (MessageWriterV2.ParticipantJoined(3, Bob), "410000000000001c 0000000000000003 0014 0200 00000002 000661a3b4d9d152 03426f62", MessageType.ParticipantJoined,
                    p => Assert.Equal(new ParticipantJoinedEvent(3, Bob), MessageParserV2.ParseEvent((byte)MessageType.ParticipantJoined, p)));
            case "snapshot":
                byte[] chunk = Assert.Single(MessageWriterV2.Snapshot(3, [Alice, Bob], [track]));
                return (chunk, "4000000000000067 0000000000000003 00000100 00020001 0016 0200 00000001 000661a3b4bb4cd2 05416c696365 0014 0200 00000002 000661a3b4d9d152 03426f62 " + trackHex, MessageType.RoomSnapshot,
                    p =>
                    {
                        var parsed = Assert.IsType<RoomSnapshotChunk>(MessageParserV2.ParseEvent((byte)MessageType.RoomSnapshot, p));
                        Assert.Equal((3UL, 0, true), (parsed.Sequence, parsed.Chunk, parsed.Last));
                        Assert.Equal([Alice, Bob], parsed.Participants);
                        Assert.Equal([track], parsed.Tracks);
                    });
            case "subscribe":
                var subscribe = new SubscribeMessage(1, ProtocolV2.AnyParticipant, ProtocolV2.AnyTrack, 0, 0xFF);
                return (MessageWriterV2.Subscribe(MessageType.Subscribe, subscribe), "520000000000000c 00000001 ffffffff ffff 00ff", MessageType.Subscribe,
                    p => Assert.Equal(subscribe, MessageParserV2.ParseSubscribe(p, "SUBSCRIBE")));
            default:
                throw new ArgumentOutOfRangeException(nameof(name));
        }
    }

    // ---- more round trips --------------------------------------------------------------------------------------

    [Fact]
    public void A_hidden_join_with_features_and_long_fields_round_trips()
    {
        var join = new JoinMessage(0x0102030405060708, true, new string('r', 64), new string('n', 64), new string('t', ProtocolV2.MaxTokenLength), new string('a', 64));

        JoinMessage parsed = MessageParserV2.ParseJoin(PayloadOf(MessageWriterV2.Join(join), MessageType.Join));

        Assert.Equal(join, parsed);
    }

    [Fact]
    public void A_refusal_result_carries_its_code_value_and_text()
    {
        var result = new ResultMessage(0xDEADBEEF, ErrorCode.TooManyTracks, 16, "at most 16 tracks per participant");

        Assert.Equal(result, MessageParserV2.ParseResult(PayloadOf(MessageWriterV2.Result(result), MessageType.Result)));
    }

    [Fact]
    public void Audio_publish_unsubscribe_and_the_small_events_round_trip()
    {
        var opus = new TrackDescription(0xFFFE, TrackKind.Audio, CodecId.Opus, TrackSource.Microphone, "mic", 2, 0, 48000, 20000, 64000, 3);
        Assert.Equal((9u, opus), MessageParserV2.ParsePublish(PayloadOf(MessageWriterV2.Publish(9, opus), MessageType.Publish)));
        var unsubscribe = new SubscribeMessage(4, 12, ProtocolV2.AnyTrack, 2, 0xFF);
        Assert.Equal(unsubscribe, MessageParserV2.ParseSubscribe(PayloadOf(MessageWriterV2.Subscribe(MessageType.Unsubscribe, unsubscribe), MessageType.Unsubscribe), "UNSUBSCRIBE"));
        Assert.Equal((5u, (ushort)7), MessageParserV2.ParseUnpublish(PayloadOf(MessageWriterV2.Unpublish(5, 7), MessageType.Unpublish)));

        Assert.Equal(new ParticipantLeftEvent(10, 3, ErrorCode.SlowConsumer), MessageParserV2.ParseEvent(0x42, PayloadOf(MessageWriterV2.ParticipantLeft(10, 3, ErrorCode.SlowConsumer), MessageType.ParticipantLeft)));
        Assert.Equal(new TrackUnpublishedEvent(11, 3, 7, ErrorCode.ConnectionLost), MessageParserV2.ParseEvent(0x44, PayloadOf(MessageWriterV2.TrackUnpublished(11, 3, 7, ErrorCode.ConnectionLost), MessageType.TrackUnpublished)));
        Assert.Equal(new TrackStateEvent(12, 3, 7, false, "camera unplugged"), MessageParserV2.ParseEvent(0x45, PayloadOf(MessageWriterV2.TrackState(12, 3, 7, false, "camera unplugged"), MessageType.TrackState)));
        // Live carries no text (§4.7).
        Assert.Equal(new TrackStateEvent(13, 3, 7, true, ""), MessageParserV2.ParseEvent(0x45, PayloadOf(MessageWriterV2.TrackState(13, 3, 7, true, "ignored"), MessageType.TrackState)));
        var keyframe = new KeyframeRequestMessage(3, 7, 2);
        Assert.Equal(keyframe, MessageParserV2.ParseKeyframeRequest(PayloadOf(MessageWriterV2.KeyframeRequest(keyframe), MessageType.KeyframeRequest)));
    }

    [Fact]
    public void A_snapshot_too_big_for_one_chunk_is_split_into_64_KiB_chunks_that_parse_back_to_the_whole_room()
    {
        ParticipantRecord[] participants = [.. Enumerable.Range(1, 1000).Select(i => new ParticipantRecord((uint)i, ParticipantTransport.Tcp, ParticipantFlags.None, 1796205600000000 + i, $"{i:D4}" + new string('p', 60)))];
        TrackRecord[] tracks = [.. Enumerable.Range(0, 150).Select(i => new TrackRecord(
            (uint)(1 + (i * 7 % 1000)), false, new TrackDescription((ushort)(1 + (i % 16)), TrackKind.Video, CodecId.Jpeg, TrackSource.Screen, new string('s', 64), 1920, 1080, 30000), $"{i:D4}" + new string('x', 1000)))];

        List<byte[]> chunks = MessageWriterV2.Snapshot(77, participants, tracks);

        Assert.True(chunks.Count >= 3, $"{chunks.Count} chunks");
        var parsed = new List<RoomSnapshotChunk>();
        var stream = new ReadOnlySequence<byte>([.. chunks.SelectMany(c => c)]);
        while (!stream.IsEmpty)
        {
            Assert.Equal(V2Read.Message, MessageParserV2.TryReadMessage(ref stream, 0, out MessageType type, out ReadOnlySequence<byte> payload));
            Assert.Equal(MessageType.RoomSnapshot, type);
            Assert.InRange(payload.Length, 16, ProtocolV2.MaxSnapshotChunk);
            parsed.Add(Assert.IsType<RoomSnapshotChunk>(MessageParserV2.ParseEvent(0x40, payload.ToArray())));
        }

        Assert.Equal(chunks.Count, parsed.Count);
        Assert.All(parsed, c => Assert.Equal(77UL, c.Sequence));
        Assert.Equal(Enumerable.Range(0, parsed.Count), parsed.Select(c => c.Chunk));
        Assert.Equal(Enumerable.Range(0, parsed.Count).Select(i => i == parsed.Count - 1), parsed.Select(c => c.Last));
        Assert.Equal(participants, parsed.SelectMany(c => c.Participants));
        Assert.Equal(tracks, parsed.SelectMany(c => c.Tracks));
        // Participants before tracks: no chunk after one with a track holds a participant (so a publisher is never later).
        int firstWithTrack = parsed.FindIndex(c => c.Tracks.Count > 0);
        Assert.True(firstWithTrack > 0, "the participants alone need more than one chunk here");
        Assert.All(parsed.Skip(firstWithTrack + 1), c => Assert.Empty(c.Participants));
    }

    [Fact]
    public void An_empty_rooms_snapshot_is_one_last_chunk_with_no_records()
    {
        byte[] chunk = Assert.Single(MessageWriterV2.Snapshot(5, [], []));

        var parsed = Assert.IsType<RoomSnapshotChunk>(MessageParserV2.ParseEvent(0x40, PayloadOf(chunk, MessageType.RoomSnapshot)));

        Assert.Equal((5UL, 0, true, 0, 0), (parsed.Sequence, parsed.Chunk, parsed.Last, parsed.Participants.Count, parsed.Tracks.Count));
    }

    [Fact]
    public void A_room_list_round_trips_and_one_too_big_for_1_MiB_is_cut_and_flagged()
    {
        var track = new TrackRecord(1, true, UsbCamera, "");
        RoomListing[] rooms =
        [
            new("call", 0x1122334455667788, 3, 2, [Alice, Bob], [track]),
            new("empty", 1, 0, 0, [], []),
        ];

        (List<RoomListing> parsed, bool truncated) = MessageParserV2.ParseRoomList(PayloadOf(MessageWriterV2.RoomList(rooms), MessageType.RoomList));

        Assert.False(truncated);
        Assert.Equal(2, parsed.Count);
        Assert.Equal(("call", 0x1122334455667788UL, 3UL, 2u), (parsed[0].Name, parsed[0].Epoch, parsed[0].EventSequence, parsed[0].HiddenWatchers));
        Assert.Equal([Alice, Bob], parsed[0].Participants);
        Assert.Equal([track], parsed[0].Tracks);
        Assert.Equal("empty", parsed[1].Name);
        Assert.Empty(parsed[1].Participants);

        // 40 rooms of 64 tracks without signal, each with a long reason, are about 2.8 MB: the list is cut and says so.
        TrackRecord[] many = [.. Enumerable.Range(1, 64).Select(i => new TrackRecord(1, false, UsbCamera with { TrackId = (ushort)i }, new string('x', 1000)))];
        RoomListing[] big = [.. Enumerable.Range(0, 40).Select(i => new RoomListing($"room{i}", (ulong)i + 1, 1, 0, [Alice], many))];
        byte[] list = MessageWriterV2.RoomList(big);
        Assert.InRange(list.Length - 8, 1, ProtocolV2.MaxRoomList);
        (List<RoomListing> cut, bool wasCut) = MessageParserV2.ParseRoomList(PayloadOf(list, MessageType.RoomList));
        Assert.True(wasCut);
        Assert.InRange(cut.Count, 1, big.Length - 1);
        Assert.Equal(big.Take(cut.Count).Select(r => r.Name), cut.Select(r => r.Name));
        Assert.All(cut, r => Assert.Equal(64, r.Tracks.Count));
    }

    [Fact]
    public void A_list_rooms_request_carries_a_token_of_up_to_4096_bytes()
    {
        string token = new('k', ProtocolV2.MaxTokenLength);

        Assert.Equal(token, MessageParserV2.ParseListRooms(PayloadOf(MessageWriterV2.ListRooms(token), MessageType.ListRooms)));
    }

    // ---- records: appended fields are skipped, short ones are malformed ------------------------------------------

    [Fact]
    public void A_record_longer_than_its_fields_is_skipped_to_its_end_so_later_revisions_can_append()
    {
        byte[] joined = MessageWriterV2.ParticipantJoined(4, Bob);
        byte[] payload = [.. joined.AsSpan(8), 0xAA, 0xBB, 0xCC, 0xDD]; // four bytes of a later revision's field
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(8), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(8)) + 4));

        Assert.Equal(new ParticipantJoinedEvent(4, Bob), MessageParserV2.ParseEvent(0x41, payload));
    }

    [Fact]
    public void A_record_shorter_than_its_fields_is_malformed()
    {
        byte[] payload = MessageWriterV2.ParticipantJoined(4, Bob).AsSpan(8).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(8), 10);

        ProtocolException error = Assert.Throws<ProtocolException>(() => MessageParserV2.ParseEvent(0x41, payload));
        Assert.Equal(ErrorCode.Malformed, error.Code);
    }

    public static TheoryData<string> BadJoins => ["room-empty", "room-characters", "room-too-long", "name-control", "token-too-long", "cut-short"];

    [Theory]
    [MemberData(nameof(BadJoins))]
    public void A_join_with_a_field_out_of_range_is_malformed(string bad)
    {
        byte[] payload = bad switch
        {
            "room-empty" => JoinPayload("", "n"),
            "room-characters" => JoinPayload("no room!", "n"),
            "room-too-long" => JoinPayload(new string('r', 65), "n"),
            "name-control" => JoinPayload("call", "evil\nname"),
            "token-too-long" => JoinPayload("call", "n", token: new string('t', ProtocolV2.MaxTokenLength + 1)),
            "cut-short" => JoinPayload("call", "n")[..^3],
            _ => throw new ArgumentOutOfRangeException(nameof(bad)),
        };

        ProtocolException error = Assert.Throws<ProtocolException>(() => MessageParserV2.ParseJoin(payload));
        Assert.Equal(ErrorCode.Malformed, error.Code);
    }

    // ---- framing -----------------------------------------------------------------------------------------------

    public static TheoryData<string> FramedMessages => ["join", "publish", "snapshot", "optional"];

    [Theory]
    [MemberData(nameof(FramedMessages))]
    public void A_message_needs_more_at_every_split_point_and_completes_once_whole_in_two_segments(string name)
    {
        byte[] bytes = name == "optional" ? Message(0xF0, new byte[300]) : Example(name).Written;
        V2Read expected = name == "optional" ? V2Read.SkippedOptional : V2Read.Message;
        for (int split = 0; split < bytes.Length; split++)
        {
            ReadOnlySequence<byte> partial = SegmentedSequence.Create(bytes[..split]);
            long before = partial.Length;
            Assert.Equal(V2Read.NeedMore, MessageParserV2.TryReadMessage(ref partial, MaxFrame, out _, out _));
            Assert.Equal(before, partial.Length);

            ReadOnlySequence<byte> whole = SegmentedSequence.Split(bytes, split);
            Assert.Equal(expected, MessageParserV2.TryReadMessage(ref whole, MaxFrame, out MessageType type, out ReadOnlySequence<byte> payload));
            Assert.True(whole.IsEmpty);
            Assert.Equal((byte)bytes[0], (byte)type);
            Assert.Equal(bytes[8..], payload.ToArray());
        }
    }

    [Fact]
    public void An_unknown_optional_message_of_up_to_64_KiB_is_consumed_whole_and_the_next_message_follows()
    {
        byte[] ping = new byte[8 + ProtocolConstants.PingPayloadSize];
        MessageWriter.WritePing(ping, new PingMessage(1, 2));
        var buffer = new ReadOnlySequence<byte>([.. Message(0xF0, new byte[ProtocolV2.MaxOptionalPayload]), .. Message(0xFE, []), .. ping]);

        Assert.Equal(V2Read.SkippedOptional, MessageParserV2.TryReadMessage(ref buffer, MaxFrame, out MessageType first, out ReadOnlySequence<byte> skipped));
        Assert.Equal(0xF0, (byte)first);
        Assert.Equal(ProtocolV2.MaxOptionalPayload, skipped.Length);
        Assert.Equal(V2Read.SkippedOptional, MessageParserV2.TryReadMessage(ref buffer, MaxFrame, out _, out _));
        Assert.Equal(V2Read.Message, MessageParserV2.TryReadMessage(ref buffer, MaxFrame, out MessageType next, out _));
        Assert.Equal(MessageType.Ping, next);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void An_unknown_optional_room_event_is_skipped_but_its_event_seq_is_still_read()
    {
        byte[] payload = new byte[20];
        BinaryPrimitives.WriteUInt64BigEndian(payload, 42);
        var buffer = new ReadOnlySequence<byte>(Message(0xC9, payload));

        Assert.Equal(V2Read.SkippedOptional, MessageParserV2.TryReadMessage(ref buffer, MaxFrame, out MessageType type, out ReadOnlySequence<byte> skipped));

        Assert.True(MessageParserV2.IsRoomEvent((byte)type));
        Assert.Equal(new UnknownRoomEvent(42, 0xC9), MessageParserV2.ParseEvent((byte)type, skipped.Slice(0, 8).ToArray()));
        Assert.False(MessageParserV2.IsRoomEvent(0xF0));
        Assert.False(MessageParserV2.IsRoomEvent(0x12));
    }

    [Theory]
    [InlineData(0xF0, ProtocolV2.MaxOptionalPayload + 1, ErrorCode.TooLarge)]
    [InlineData(0xC9, ProtocolV2.MaxOptionalPayload + 1, ErrorCode.TooLarge)]
    [InlineData(0x70, 4, ErrorCode.UnknownType)]
    [InlineData(0x7E, 0, ErrorCode.UnknownType)]
    [InlineData(0x00, 0, ErrorCode.UnknownType)]
    [InlineData(0x80, 0, ErrorCode.UnknownType)]
    public void Unknown_types_are_refused_from_the_header_alone(int type, long length, ErrorCode code)
    {
        var buffer = new ReadOnlySequence<byte>(Header((byte)type, (uint)length));

        ProtocolException error = Assert.Throws<ProtocolException>(() => MessageParserV2.TryReadMessage(ref buffer, MaxFrame, out _, out _));

        Assert.Equal(code, error.Code);
        if (code == ErrorCode.UnknownType)
        {
            Assert.Contains($"0x{type:X2}", error.Message, StringComparison.Ordinal);
        }
    }

    public static TheoryData<int, long> Caps => new()
    {
        { 0x01, 1024 }, { 0x02, 1024 }, { 0x03, 8 * 1024 }, { 0x04, 2 * 1024 }, { 0x06, 1024 * 1024 },
        { 0x11, 4 + 1024 }, { 0x12, 32 + 1024 + MaxFrame }, { 0x13, 256 }, { 0x14, 2 * 1024 }, { 0x20, 16 }, { 0x21, 24 },
        { 0x30, 4 + 1024 }, { 0x31, 4 + 1024 }, { 0x40, 64 * 1024 }, { 0x41, 4 * 1024 }, { 0x42, 256 }, { 0x43, 4 * 1024 },
        { 0x44, 256 }, { 0x45, 2 * 1024 }, { 0x50, 1024 }, { 0x51, 256 }, { 0x52, 256 }, { 0x53, 256 },
    };

    [Theory]
    [MemberData(nameof(Caps))]
    public void Every_known_type_is_refused_from_the_header_alone_one_byte_over_its_cap(int type, long cap)
    {
        var atCap = new ReadOnlySequence<byte>(Header((byte)type, (uint)cap));
        var over = new ReadOnlySequence<byte>(Header((byte)type, (uint)cap + 1));

        Assert.Equal(V2Read.NeedMore, MessageParserV2.TryReadMessage(ref atCap, MaxFrame, out _, out _));
        ProtocolException error = Assert.Throws<ProtocolException>(() => MessageParserV2.TryReadMessage(ref over, MaxFrame, out _, out _));
        Assert.Equal(ErrorCode.TooLarge, error.Code);
    }

    [Fact]
    public void A_frame_is_too_large_for_a_peer_that_may_not_send_frames_and_small_audio_fits_a_small_video_cap()
    {
        var one = new ReadOnlySequence<byte>(Header(0x12, 1));
        Assert.Equal(ErrorCode.TooLarge, Assert.Throws<ProtocolException>(() => MessageParserV2.TryReadMessage(ref one, 0, out _, out _)).Code);

        // The audio data cap (16 KiB) holds even when the video cap is smaller.
        var audio = new ReadOnlySequence<byte>(Header(0x12, 32 + 1024 + ProtocolV2.MaxAudioFrameBytes));
        Assert.Equal(V2Read.NeedMore, MessageParserV2.TryReadMessage(ref audio, 1000, out _, out _));
    }

    [Fact]
    public void A_frame_header_whose_extensions_do_not_fit_is_malformed()
    {
        byte[] header = new byte[40];
        MessageWriterV2.WriteFrameHeader(header, 0, 1, FrameInfo.Video(CodecId.Jpeg, 64, 48, 1, 0), 100);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(8 + 10), 200); // ext_len 200 > the 100 data bytes

        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParserV2.ParseFrameHeader(header.AsSpan(8), 32 + 100, out _, out _, out _)).Code);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(8 + 10), ProtocolV2.MaxFrameExtension + 1);
        Assert.Equal(ErrorCode.Malformed, Assert.Throws<ProtocolException>(() => MessageParserV2.ParseFrameHeader(header.AsSpan(8), 1 << 20, out _, out _, out _)).Code);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(8 + 10), 60);
        MessageParserV2.ParseFrameHeader(header.AsSpan(8), 32 + 100, out _, out _, out int dataOffset);
        Assert.Equal(92, dataOffset);
    }

    [Fact]
    public void The_preface_is_read_with_both_versions_and_max_version_0_means_1()
    {
        var v2 = new ReadOnlySequence<byte>([.. MessageWriterV2.Preface(2), .. Header(0x20, 16)]);
        Assert.True(MessageParserV2.TryReadPreface(ref v2, out ushort version, out ushort max));
        Assert.Equal((2, 2), (version, max));
        Assert.Equal(8, v2.Length);

        var v1 = new ReadOnlySequence<byte>(Convert.FromHexString("5343414d00010000"));
        Assert.True(MessageParserV2.TryReadPreface(ref v1, out version, out max));
        Assert.Equal((1, 1), (version, max));

        var partial = new ReadOnlySequence<byte>(Convert.FromHexString("5343414d0002"));
        Assert.False(MessageParserV2.TryReadPreface(ref partial, out _, out _));
        Assert.Equal(6, partial.Length);
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static byte[] Header(byte type, uint length)
    {
        byte[] header = new byte[8];
        header[0] = type;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), length);
        return header;
    }

    private static byte[] Message(byte type, byte[] payload) => [.. Header(type, (uint)payload.Length), .. payload];

    /// <summary>The payload of one whole message, checking its type and that nothing follows.</summary>
    private static byte[] PayloadOf(byte[] message, MessageType expected)
    {
        var buffer = new ReadOnlySequence<byte>(message);
        Assert.Equal(V2Read.Message, MessageParserV2.TryReadMessage(ref buffer, MaxFrame, out MessageType type, out ReadOnlySequence<byte> payload));
        Assert.Equal(expected, type);
        Assert.True(buffer.IsEmpty);
        return payload.ToArray();
    }

    /// <summary>A JOIN payload written field by field (the writer would cut or clean what these tests need as sent).</summary>
    private static byte[] JoinPayload(string room, string name, string token = "")
    {
        byte[] r = System.Text.Encoding.UTF8.GetBytes(room);
        byte[] n = System.Text.Encoding.UTF8.GetBytes(name);
        byte[] t = System.Text.Encoding.UTF8.GetBytes(token);
        var payload = new List<byte>(new byte[10]) { (byte)r.Length };
        payload.AddRange(r);
        payload.Add((byte)n.Length);
        payload.AddRange(n);
        payload.Add((byte)(t.Length >> 8));
        payload.Add((byte)t.Length);
        payload.AddRange(t);
        payload.Add(5);
        payload.AddRange("tests"u8.ToArray());
        return [.. payload];
    }
}
