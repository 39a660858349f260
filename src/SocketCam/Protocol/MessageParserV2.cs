using System.Buffers;
using System.Buffers.Binary;
using SocketCam.Media;

namespace SocketCam.Protocol;

/// <summary>What <see cref="MessageParserV2.TryReadMessage"/> found.</summary>
internal enum V2Read
{
    /// <summary>More bytes are needed.</summary>
    NeedMore,

    /// <summary>A whole message of a known type.</summary>
    Message,

    /// <summary>A whole message of an unknown optional type: skip it (§4.2).</summary>
    SkippedOptional,
}

/// <summary>
/// Reads protocol v2 (docs/PROTOCOL.md Part II) from a byte sequence. Like <see cref="MessageParser"/>: "need more" or a
/// message, or a <see cref="ProtocolException"/> when the bytes can never become valid; every length is checked against
/// its type's cap from the 8-byte header, before the payload is waited for.
/// </summary>
internal static class MessageParserV2
{
    /// <summary>Reads a peer's preface: magic, the version it speaks and the highest it knows (0 = 1).</summary>
    public static bool TryReadPreface(ref ReadOnlySequence<byte> buffer, out ushort version, out ushort maxVersion)
    {
        version = 0;
        maxVersion = 0;
        if (buffer.Length < ProtocolConstants.PrefaceSize)
        {
            // Lets the v1 parser refuse junk as soon as 4 bytes are in.
            ReadOnlySequence<byte> probe = buffer;
            MessageParser.CheckMagicPrefix(probe);
            return false;
        }

        Span<byte> preface = stackalloc byte[ProtocolConstants.PrefaceSize];
        buffer.Slice(0, ProtocolConstants.PrefaceSize).CopyTo(preface);
        MessageParser.CheckMagicPrefix(new ReadOnlySequence<byte>(preface.ToArray()));
        version = BinaryPrimitives.ReadUInt16BigEndian(preface[4..]);
        maxVersion = BinaryPrimitives.ReadUInt16BigEndian(preface[6..]);
        if (maxVersion == 0)
        {
            maxVersion = 1;
        }

        buffer = buffer.Slice(ProtocolConstants.PrefaceSize);
        return true;
    }

    /// <summary>
    /// Consumes one message of a v2 session. <paramref name="maxFrameBytes"/> caps a FRAME's data (0: the sender may not
    /// send frames). An unknown required type is ERROR unknown-type and an oversized unknown optional one too-large, both
    /// from the header alone; an unknown optional one within its cap is consumed and reported as skipped.
    /// </summary>
    public static V2Read TryReadMessage(ref ReadOnlySequence<byte> buffer, int maxFrameBytes, out MessageType type, out ReadOnlySequence<byte> payload)
    {
        type = default;
        payload = default;
        if (buffer.Length < ProtocolConstants.MessageHeaderSize)
        {
            return V2Read.NeedMore;
        }

        Span<byte> header = stackalloc byte[ProtocolConstants.MessageHeaderSize];
        buffer.Slice(0, ProtocolConstants.MessageHeaderSize).CopyTo(header);
        byte code = header[0];
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        long cap = PayloadCap(code, maxFrameBytes);
        bool known = cap >= 0;
        if (!known)
        {
            if ((code & ProtocolV2.OptionalBit) == 0 || code == ProtocolV2.OptionalBit)
            {
                throw new ProtocolException(ErrorCode.UnknownType, $"unknown message type 0x{code:X2}");
            }

            cap = ProtocolV2.MaxOptionalPayload;
        }

        if (length > cap)
        {
            throw new ProtocolException(ErrorCode.TooLarge, $"message type 0x{code:X2} of {length} bytes exceeds the cap of {cap} bytes.");
        }

        long total = ProtocolConstants.MessageHeaderSize + (long)length;
        if (buffer.Length < total)
        {
            return V2Read.NeedMore;
        }

        type = (MessageType)code;
        payload = buffer.Slice(ProtocolConstants.MessageHeaderSize, length);
        buffer = buffer.Slice(total);
        return known ? V2Read.Message : V2Read.SkippedOptional;
    }

    /// <summary>The cap of a known v2 type's payload, or -1 for a type this version does not know.</summary>
    public static long PayloadCap(byte type, int maxFrameBytes) => (MessageType)type switch
    {
        MessageType.Hello or MessageType.Welcome => ProtocolConstants.MaxControlPayload,
        MessageType.VideoFrame => ProtocolConstants.VideoFrameHeaderSize + (long)maxFrameBytes,
        MessageType.Signal => ProtocolConstants.SignalFixedSize + ProtocolConstants.MaxSignalTextLength,
        MessageType.Join => 8 * 1024,
        MessageType.Result => 2 * 1024,
        MessageType.ListRooms => 2 + ProtocolV2.MaxTokenLength,
        MessageType.RoomList => ProtocolV2.MaxRoomList,
        MessageType.Frame => maxFrameBytes == 0 ? 0 : ProtocolV2.FrameHeaderSize + ProtocolV2.MaxFrameExtension + (long)Math.Max(maxFrameBytes, ProtocolV2.MaxAudioFrameBytes),
        MessageType.KeyframeRequest => 256,
        MessageType.SourceState => 2 * 1024,
        MessageType.Ping => ProtocolConstants.PingPayloadSize,
        MessageType.Pong => ProtocolConstants.PongPayloadSize,
        MessageType.Error or MessageType.Goodbye => 4 + ProtocolConstants.MaxErrorTextLength,
        MessageType.RoomSnapshot => ProtocolV2.MaxSnapshotChunk,
        MessageType.ParticipantJoined or MessageType.TrackPublished => 4 * 1024,
        MessageType.ParticipantLeft or MessageType.TrackUnpublished => 256,
        MessageType.TrackState => 2 * 1024,
        MessageType.Publish => 1024,
        MessageType.Unpublish or MessageType.Subscribe or MessageType.Unsubscribe => 256,
        MessageType.ChatSend => ProtocolV2.MaxChatSend,
        MessageType.ChatHistory or MessageType.ChatMessage => ProtocolV2.MaxOptionalPayload,
        _ => -1,
    };

    /// <summary>True for the room-event types (0x40-0x4F and the optional 0xC0-0xCF): all start with event_seq.</summary>
    public static bool IsRoomEvent(byte type) => (type & 0x70) == 0x40;

    public static JoinMessage ParseJoin(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "JOIN");
        ulong features = r.U64();
        ushort flags = r.U16();
        int roomLength = r.U8();
        if (roomLength is 0 or > ProtocolConstants.MaxRoomLength)
        {
            throw r.Malformed($"the room name must be 1..{ProtocolConstants.MaxRoomLength} bytes");
        }

        string room = r.Text(roomLength, "room", ProtocolConstants.MaxRoomLength);
        if (!RoomName.IsValid(room))
        {
            throw r.Malformed("the room name has characters outside A-Z a-z 0-9 . _ -");
        }

        string name = r.Text8("name", ProtocolV2.MaxNameLength);
        string token = r.Text16("token", ProtocolV2.MaxTokenLength);
        string agent = r.Text8("agent", ProtocolV2.MaxNameLength);
        // §4.15's resume fields are appended: a JOIN that ends here means none.
        ulong chatAfter = 0;
        ulong chatStore = 0;
        if (r.Remaining >= 16)
        {
            chatAfter = r.U64();
            chatStore = r.U64();
        }

        return new JoinMessage(features, (flags & 1) != 0, room, name, token, agent, chatAfter, chatStore);
    }

    public static string ParseListRooms(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "LIST_ROOMS");
        return r.Text16("token", ProtocolV2.MaxTokenLength);
    }

    public static (List<RoomListing> Rooms, bool Truncated) ParseRoomList(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "ROOM_LIST");
        int count = r.U16();
        byte flags = r.U8();
        r.U8();
        var rooms = new List<RoomListing>(Math.Min(count, 1024));
        for (int i = 0; i < count; i++)
        {
            int start = r.Position;
            uint length = r.U32();
            string name = r.Text8("room", ProtocolConstants.MaxRoomLength);
            ulong epoch = r.U64();
            ulong seq = r.U64();
            uint hidden = r.U32();
            int participants = r.U16();
            int tracks = r.U16();
            var people = new List<ParticipantRecord>(Math.Min(participants, 1024));
            for (int p = 0; p < participants; p++)
            {
                people.Add(ReadParticipant(ref r));
            }

            var trackList = new List<TrackRecord>(Math.Min(tracks, 1024));
            for (int t = 0; t < tracks; t++)
            {
                trackList.Add(ReadTrack(ref r));
            }

            r.SkipTo(checked(start + (int)Math.Min(length, int.MaxValue)));
            rooms.Add(new RoomListing(name, epoch, seq, hidden, people, trackList));
        }

        return (rooms, (flags & 1) != 0);
    }

    public static WelcomeV2Message ParseWelcome(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "WELCOME");
        var welcome = new WelcomeV2Message(r.U64(), r.I64(), r.U32(), r.U32(), r.U64(), r.U64(), r.U32(), r.U16(), r.U16(), r.U16(), r.U16(), r.U16(), r.U16(), r.U32(), r.U32());
        if ((welcome.Features & ProtocolV2.FeatureChat) != 0 && r.Remaining >= 16)
        {
            welcome = welcome with { Chat = new ChatTerms(r.U64(), r.U16(), r.U16(), r.U16(), r.U16()) };
        }

        return welcome;
    }

    public static ResultMessage ParseResult(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "RESULT");
        uint id = r.U32();
        var code = (ErrorCode)r.U16();
        int textLength = r.U16();
        uint value = r.U32();
        string text = r.Text(textLength, "text", ProtocolV2.MaxTextLength);
        return r.Remaining >= 16 ? new ResultMessage(id, code, value, text, r.U64(), r.I64()) : new ResultMessage(id, code, value, text);
    }

    /// <summary>
    /// CHAT_SEND (§4.15). Everything a correct client never sends is malformed (the session ends); a text above the cap is
    /// returned as it is, for the hub to refuse with a RESULT.
    /// </summary>
    public static ChatSendMessage ParseChatSend(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "CHAT_SEND");
        uint id = r.U32();
        ulong clientId = r.U64();
        uint length = r.U32();
        if (length != r.Remaining)
        {
            throw r.Malformed($"text_len {length} does not match the {r.Remaining} bytes that follow");
        }

        if (length == 0)
        {
            throw r.Malformed("the text is empty");
        }

        if (clientId == 0)
        {
            throw r.Malformed("client_msg_id 0 is invalid");
        }

        return new ChatSendMessage(id, clientId, r.ChatText((int)length, ProtocolV2.MaxChatSend));
    }

    /// <summary>CHAT_HISTORY (§4.15): one chunk.</summary>
    public static ChatHistoryChunk ParseChatHistory(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "CHAT_HISTORY");
        ulong store = r.U64();
        int chunk = r.U16();
        byte flags = r.U8();
        r.U8();
        int count = r.U16();
        var messages = new List<ChatMessage>(Math.Min(count, 1024));
        for (int i = 0; i < count; i++)
        {
            messages.Add(ReadChat(ref r));
        }

        return new ChatHistoryChunk(store, chunk, (flags & 1) != 0, (flags & 2) != 0, messages, (flags & 4) != 0);
    }

    private static ChatMessage ReadChat(ref WireReader r)
    {
        int start = r.Position;
        int length = r.U16();
        ulong seq = r.U64();
        long sent = r.I64();
        uint participant = r.U32();
        ulong clientId = r.U64();
        string name = r.Text8("name", ProtocolV2.MaxNameLength);
        int textLength = r.U16();
        if (textLength == 0)
        {
            throw r.Malformed("a chat record's text is empty");
        }

        string text = r.ChatText(textLength, ProtocolV2.MaxChatText);
        r.SkipTo(start + length);
        return new ChatMessage(seq, sent, participant, clientId, name, text);
    }

    /// <summary>PUBLISH: the request id and the track description (ranges checked; unknown kinds/codecs are the hub's to refuse).</summary>
    public static (uint RequestId, TrackDescription Track) ParsePublish(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "PUBLISH");
        uint id = r.U32();
        return (id, ReadDescription(ref r));
    }

    public static (uint RequestId, ushort TrackId) ParseUnpublish(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "UNPUBLISH");
        uint id = r.U32();
        ushort track = r.U16();
        r.U16();
        if (track is 0 or ProtocolV2.AnyTrack)
        {
            throw r.Malformed($"track id {track} is not 1..65534");
        }

        return (id, track);
    }

    public static SubscribeMessage ParseSubscribe(ReadOnlySpan<byte> payload, string name)
    {
        var r = new WireReader(payload, name);
        var message = new SubscribeMessage(r.U32(), r.U32(), r.U16(), r.U8(), r.U8());
        if (message.ParticipantId == 0 || message.TrackId == 0)
        {
            throw r.Malformed("participant id and track id may not be 0");
        }

        if (message.ParticipantId == ProtocolV2.AnyParticipant && message.TrackId != ProtocolV2.AnyTrack)
        {
            throw r.Malformed("any participant needs any track (0xFFFF)");
        }

        return message;
    }

    public static KeyframeRequestMessage ParseKeyframeRequest(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "KEYFRAME_REQUEST");
        var message = new KeyframeRequestMessage(r.U32(), r.U16(), r.U8());
        r.U8();
        return message;
    }

    public static SourceStateMessage ParseSourceState(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, "SOURCE_STATE");
        ushort track = r.U16();
        byte state = r.U8();
        r.U8();
        if (state > 1)
        {
            throw r.Malformed($"state {state} is neither 0 (no signal) nor 1 (live)");
        }

        return new SourceStateMessage(track, state == 1, r.Text16("text", ProtocolV2.MaxTextLength));
    }

    /// <summary>The 32-byte fixed header of a FRAME; <paramref name="dataOffset"/> is where the data starts (after the extensions).</summary>
    public static FrameInfo ParseFrameHeader(ReadOnlySpan<byte> h, long payloadLength, out uint participantId, out ushort trackId, out int dataOffset)
    {
        var r = new WireReader(h, "FRAME");
        participantId = r.U32();
        trackId = r.U16();
        var kind = (TrackKind)r.U8();
        var codec = (CodecId)r.U8();
        var flags = (FrameFlags)(r.U8() & 0x7);
        r.U8(); // layer: issue 19
        int extension = r.U16();
        int a = r.U16();
        int b = r.U16();
        long sequence = r.I64();
        long capture = r.I64();
        if (extension > ProtocolV2.MaxFrameExtension || ProtocolV2.FrameHeaderSize + extension > payloadLength)
        {
            throw r.Malformed($"ext_len {extension} does not fit the message");
        }

        dataOffset = ProtocolV2.FrameHeaderSize + extension;
        return new FrameInfo(kind, codec, flags, a, b, sequence, capture);
    }

    public static RoomEvent ParseEvent(byte type, ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload, ((MessageType)type).ToString());
        ulong seq = r.U64();
        switch ((MessageType)type)
        {
            case MessageType.RoomSnapshot:
                int chunk = r.U16();
                byte chunkFlags = r.U8();
                r.U8();
                int participants = r.U16();
                int tracks = r.U16();
                var people = new List<ParticipantRecord>(Math.Min(participants, 1024));
                for (int i = 0; i < participants; i++)
                {
                    people.Add(ReadParticipant(ref r));
                }

                var trackList = new List<TrackRecord>(Math.Min(tracks, 1024));
                for (int i = 0; i < tracks; i++)
                {
                    trackList.Add(ReadTrack(ref r));
                }

                return new RoomSnapshotChunk(seq, chunk, (chunkFlags & 1) != 0, people, trackList);
            case MessageType.ParticipantJoined:
                return new ParticipantJoinedEvent(seq, ReadParticipant(ref r));
            case MessageType.ParticipantLeft:
                return new ParticipantLeftEvent(seq, r.U32(), (ErrorCode)r.U16());
            case MessageType.TrackPublished:
                return new TrackPublishedEvent(seq, ReadTrack(ref r));
            case MessageType.TrackUnpublished:
                return new TrackUnpublishedEvent(seq, r.U32(), r.U16(), (ErrorCode)r.U16());
            case MessageType.TrackState:
                uint pid = r.U32();
                ushort tid = r.U16();
                byte state = r.U8();
                r.U8();
                return new TrackStateEvent(seq, pid, tid, state == 1, r.Text16("text", ProtocolV2.MaxTextLength));
            case MessageType.ChatMessage:
                return new ChatMessageEvent(seq, ReadChat(ref r));
            default:
                return new UnknownRoomEvent(seq, type);
        }
    }

    private static ParticipantRecord ReadParticipant(ref WireReader r)
    {
        int start = r.Position;
        int length = r.U16();
        var transport = (ParticipantTransport)r.U8();
        var flags = (ParticipantFlags)r.U8();
        uint id = r.U32();
        long joined = r.I64();
        string name = r.Text8("name", ProtocolV2.MaxNameLength);
        r.SkipTo(start + length);
        return new ParticipantRecord(id, transport, flags, joined, name);
    }

    private static TrackRecord ReadTrack(ref WireReader r)
    {
        int start = r.Position;
        int length = r.U16();
        byte state = r.U8();
        r.U8();
        uint pid = r.U32();
        TrackDescription description = ReadDescription(ref r);
        string text = r.Text16("text", ProtocolV2.MaxTextLength);
        r.SkipTo(start + length);
        return new TrackRecord(pid, state == 1, description, text);
    }

    private static TrackDescription ReadDescription(ref WireReader r)
    {
        ushort id = r.U16();
        var kind = (TrackKind)r.U8();
        var codec = (CodecId)r.U8();
        var source = (TrackSource)r.U8();
        byte flags = r.U8();
        ushort a = r.U16();
        ushort b = r.U16();
        byte layers = r.U8();
        r.U8();
        uint rate = r.U32();
        uint packet = r.U32();
        uint bitrate = r.U32();
        string name = r.Text8("track name", ProtocolV2.MaxNameLength);
        if (id is 0 or ProtocolV2.AnyTrack)
        {
            throw r.Malformed($"track id {id} is not 1..65534");
        }

        if (kind == 0)
        {
            throw r.Malformed("kind 0 is invalid");
        }

        if (kind == TrackKind.Video && (a > FrameLimits.MaxDimension || b > FrameLimits.MaxDimension || (a == 0) != (b == 0)))
        {
            throw r.Malformed($"video size {a}x{b} is outside 0..{FrameLimits.MaxDimension}");
        }

        if (kind == TrackKind.Audio && (a is < 1 or > 8 || rate is < 8000 or > 192000))
        {
            throw r.Malformed($"audio of {a} channels at {rate} Hz is outside 1..8 channels, 8000..192000 Hz");
        }

        if (CodecIds.KindOf(codec) is { } codecKind && codecKind != kind)
        {
            throw r.Malformed($"codec {CodecIds.Name(codec)} is not a {kind.ToString().ToLowerInvariant()} codec");
        }

        return new TrackDescription(id, kind, codec, source, name, a, b, rate, packet, bitrate, flags, layers);
    }
}
