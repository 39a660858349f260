using System.Buffers.Binary;
using SocketCam.Media;

namespace SocketCam.Protocol;

/// <summary>
/// Writes protocol v2 messages (docs/PROTOCOL.md Part II). Control messages come back as exact-size arrays (built once and
/// shared: a room event goes to every participant as the same array); FRAME's header is written into a span.
/// </summary>
internal static class MessageWriterV2
{
    public static byte[] Preface(ushort version)
    {
        byte[] b = new byte[ProtocolConstants.PrefaceSize];
        BinaryPrimitives.WriteUInt32BigEndian(b, ProtocolConstants.Magic);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), version);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), ProtocolV2.MaxVersion);
        return b;
    }

    /// <summary>FRAME's message header and 32-byte fixed header (no extensions) in front of <paramref name="dataLength"/> bytes.</summary>
    public static void WriteFrameHeader(Span<byte> destination, uint participantId, ushort trackId, in FrameInfo info, int dataLength)
    {
        MessageWriter.WriteHeader(destination, MessageType.Frame, ProtocolV2.FrameHeaderSize + dataLength);
        var w = new WireWriter(destination[ProtocolConstants.MessageHeaderSize..]);
        w.U32(participantId);
        w.U16(trackId);
        w.U8((byte)info.Kind);
        w.U8((byte)info.Codec);
        w.U8((byte)info.Flags);
        w.U8(0);
        w.U16(0);
        w.U16((ushort)Math.Clamp(info.Width, 0, ushort.MaxValue));
        w.U16((ushort)Math.Clamp(info.Height, 0, ushort.MaxValue));
        w.I64(info.Sequence);
        w.I64(info.CaptureMicros);
    }

    public static byte[] Join(in JoinMessage join) => Build(MessageType.Join, 16 + 64 + 64 + 4096 + 64 + 16, (ref WireWriter w, in JoinMessage j) =>
    {
        w.U64(j.Features);
        w.U16((ushort)(j.Hidden ? 1 : 0));
        w.Text8(j.Room, ProtocolConstants.MaxRoomLength);
        w.Text8(j.Name, ProtocolV2.MaxNameLength);
        w.Text16(j.Token, ProtocolV2.MaxTokenLength);
        w.Text8(j.Agent, ProtocolV2.MaxNameLength);
        if ((j.Features & ProtocolV2.FeatureChat) != 0)
        {
            w.U64(j.ChatAfter);
            w.U64(j.ChatStore);
        }
    }, join);

    public static byte[] Welcome(in WelcomeV2Message m) => Build(MessageType.Welcome, ProtocolV2.WelcomeChatPayloadSize, (ref WireWriter w, in WelcomeV2Message m) =>
    {
        w.U64(m.SessionId);
        w.I64(m.ServerTimeMicros);
        w.U32(m.MaxFrameBytes);
        w.U32(m.ParticipantId);
        w.U64(m.RoomEpoch);
        w.U64(m.Features);
        w.U32(m.Permissions);
        w.U16(m.MaxTracks);
        w.U16(m.MaxSubscriptions);
        w.U16(m.MaxParticipants);
        w.U16(m.RequestBurst);
        w.U16(m.RequestRate);
        w.U16(m.KeyframeIntervalMs);
        w.U32(m.ControlQueueMessages);
        w.U32(m.ControlQueueBytes);
        if (m.Chat is { } chat)
        {
            w.U64(chat.Store);
            w.U16(chat.MaxBytes);
            w.U16(chat.Burst);
            w.U16(chat.RateX10);
            w.U16(chat.History);
        }
    }, m);

    public static byte[] Result(in ResultMessage m) => Build(MessageType.Result, 12 + ProtocolV2.MaxTextLength + 16, (ref WireWriter w, in ResultMessage m) =>
    {
        w.U32(m.RequestId);
        w.U16((ushort)m.Code);
        int at = w.Position;
        w.U16(0);
        w.U32(m.Value);
        int start = w.Position;
        w.Text(m.Text, ProtocolV2.MaxTextLength);
        w.PatchU16(at, (ushort)(w.Position - start));
        if (m.ChatSeq != 0)
        {
            w.U64(m.ChatSeq);
            w.I64(m.ChatSentAtMicros);
        }
    }, m);

    /// <summary>CHAT_SEND (§4.15); the text is written as it is (the caller keeps it within the cap it wants to test).</summary>
    public static byte[] ChatSend(in ChatSendMessage m)
    {
        int textBytes = System.Text.Encoding.UTF8.GetByteCount(m.Text);
        return Build(MessageType.ChatSend, 16 + textBytes, (ref WireWriter w, in ChatSendMessage m) =>
        {
            w.U32(m.RequestId);
            w.U64(m.ClientMessageId);
            int at = w.Position;
            w.U32(0);
            int start = w.Position;
            w.Utf8(m.Text, int.MaxValue);
            w.PatchU32(at, (uint)(w.Position - start));
        }, m);
    }

    /// <summary>CHAT_MESSAGE (0xC6): the room event announcing a stored message, built once for everyone.</summary>
    public static byte[] ChatMessage(ulong seq, ChatMessage message) => Build(MessageType.ChatMessage, 8 + ChatRecordMax, (ref WireWriter w, in (ulong S, ChatMessage M) m) =>
    {
        w.U64(m.S);
        WriteChat(ref w, m.M);
    }, (seq, message));

    /// <summary>CHAT_HISTORY (§4.15): the records in order, in chunks of at most 64 KiB, the last flagged; at least one chunk.</summary>
    public static List<byte[]> ChatHistory(ulong store, IReadOnlyList<ChatMessage> messages, bool truncated, bool reset = false) =>
        Chunked(MessageType.ChatHistory, ProtocolV2.MaxOptionalPayload, store, (byte)((truncated ? 2 : 0) | (reset ? 4 : 0)),
            [new RecordGroup(messages.Count, ChatRecordMax, (ref WireWriter w, int i) => WriteChat(ref w, messages[i]))]);

    /// <summary>The largest chat record: the fixed fields, a 64-byte name and a 4096-byte text.</summary>
    private const int ChatRecordMax = ProtocolV2.ChatRecordFixedSize + ProtocolV2.MaxNameLength + ProtocolV2.MaxChatText;

    private static void WriteChat(ref WireWriter w, ChatMessage m)
    {
        int start = w.Position;
        w.U16(0);
        w.U64(m.Seq);
        w.I64(m.SentAtMicros);
        w.U32(m.ParticipantId);
        w.U64(m.ClientMessageId);
        w.Text8(m.Name, ProtocolV2.MaxNameLength);
        int at = w.Position;
        w.U16(0);
        int textStart = w.Position;
        w.Utf8(m.Text, ProtocolV2.MaxChatText);
        w.PatchU16(at, (ushort)(w.Position - textStart));
        w.PatchU16(start, (ushort)(w.Position - start));
    }

    public static byte[] Publish(uint requestId, TrackDescription track) => Build(MessageType.Publish, 4 + TrackDescription.FixedSize + 64, (ref WireWriter w, in (uint Id, TrackDescription T) m) =>
    {
        w.U32(m.Id);
        WriteDescription(ref w, m.T);
    }, (requestId, track));

    public static byte[] Unpublish(uint requestId, ushort trackId) => Build(MessageType.Unpublish, 8, (ref WireWriter w, in (uint Id, ushort T) m) =>
    {
        w.U32(m.Id);
        w.U16(m.T);
        w.U16(0);
    }, (requestId, trackId));

    public static byte[] Subscribe(MessageType type, in SubscribeMessage m) => Build(type, 12, (ref WireWriter w, in SubscribeMessage m) =>
    {
        w.U32(m.RequestId);
        w.U32(m.ParticipantId);
        w.U16(m.TrackId);
        w.U8(m.Kinds);
        w.U8(m.MaxLayer);
    }, m);

    public static byte[] KeyframeRequest(in KeyframeRequestMessage m) => Build(MessageType.KeyframeRequest, 8, (ref WireWriter w, in KeyframeRequestMessage m) =>
    {
        w.U32(m.ParticipantId);
        w.U16(m.TrackId);
        w.U8(m.Reason);
        w.U8(0);
    }, m);

    public static byte[] SourceState(in SourceStateMessage m) => Build(MessageType.SourceState, 6 + ProtocolV2.MaxTextLength, (ref WireWriter w, in SourceStateMessage m) =>
    {
        w.U16(m.TrackId);
        w.U8((byte)(m.Live ? 1 : 0));
        w.U8(0);
        w.Text16(m.Text, ProtocolV2.MaxTextLength);
    }, m);

    public static byte[] ParticipantJoined(ulong seq, ParticipantRecord p) => Build(MessageType.ParticipantJoined, 8 + 17 + 64, (ref WireWriter w, in (ulong S, ParticipantRecord P) m) =>
    {
        w.U64(m.S);
        WriteParticipant(ref w, m.P);
    }, (seq, p));

    public static byte[] ParticipantLeft(ulong seq, uint participantId, ErrorCode reason) => Build(MessageType.ParticipantLeft, 16, (ref WireWriter w, in (ulong S, uint P, ErrorCode R) m) =>
    {
        w.U64(m.S);
        w.U32(m.P);
        w.U16((ushort)m.R);
        w.U16(0);
    }, (seq, participantId, reason));

    public static byte[] TrackPublished(ulong seq, TrackRecord t) => Build(MessageType.TrackPublished, 8 + 35 + 64 + ProtocolV2.MaxTextLength, (ref WireWriter w, in (ulong S, TrackRecord T) m) =>
    {
        w.U64(m.S);
        WriteTrack(ref w, m.T);
    }, (seq, t));

    public static byte[] TrackUnpublished(ulong seq, uint participantId, ushort trackId, ErrorCode reason) => Build(MessageType.TrackUnpublished, 16, (ref WireWriter w, in (ulong S, uint P, ushort T, ErrorCode R) m) =>
    {
        w.U64(m.S);
        w.U32(m.P);
        w.U16(m.T);
        w.U16((ushort)m.R);
    }, (seq, participantId, trackId, reason));

    public static byte[] TrackState(ulong seq, uint participantId, ushort trackId, bool live, string text) => Build(MessageType.TrackState, 18 + ProtocolV2.MaxTextLength, (ref WireWriter w, in (ulong S, uint P, ushort T, bool L, string X) m) =>
    {
        w.U64(m.S);
        w.U32(m.P);
        w.U16(m.T);
        w.U8((byte)(m.L ? 1 : 0));
        w.U8(0);
        w.Text16(m.L ? "" : m.X, ProtocolV2.MaxTextLength);
    }, (seq, participantId, trackId, live, text));

    /// <summary>
    /// ROOM_SNAPSHOT as one or more chunks of at most 64 KiB, all with event_seq <paramref name="seq"/>: participants
    /// before tracks, a track's publisher in the same or an earlier chunk (participants come first), the last flagged.
    /// </summary>
    public static List<byte[]> Snapshot(ulong seq, IReadOnlyList<ParticipantRecord> participants, IReadOnlyList<TrackRecord> tracks) =>
        Chunked(MessageType.RoomSnapshot, ProtocolV2.MaxSnapshotChunk, seq, 0,
        [
            new RecordGroup(participants.Count, 17 + (64 * 3), (ref WireWriter w, int i) => WriteParticipant(ref w, participants[i])),
            new RecordGroup(tracks.Count, 35 + (64 * 3) + (ProtocolV2.MaxTextLength * 3), (ref WireWriter w, int i) => WriteTrack(ref w, tracks[i])),
        ]);

    private delegate void RecordAt(ref WireWriter writer, int index);

    /// <summary>Records of one kind for <see cref="Chunked"/>: how many, the most bytes one can take, how to write the i-th.</summary>
    private readonly record struct RecordGroup(int Count, int MaxRecord, RecordAt Write);

    /// <summary>
    /// A message whose records may not fit in one (ROOM_SNAPSHOT, CHAT_HISTORY): chunks of at most <paramref name="cap"/>
    /// bytes, each <c>id</c> (8), <c>chunk</c> (2), <c>flags</c> (1: bit 0 last chunk, plus <paramref name="flags"/>),
    /// reserved (1), a u16 count per group, then the records, the groups in order; at least one chunk.
    /// </summary>
    private static List<byte[]> Chunked(MessageType type, int cap, ulong id, byte flags, ReadOnlySpan<RecordGroup> groups)
    {
        var chunks = new List<byte[]>();
        byte[] scratch = new byte[ProtocolConstants.MessageHeaderSize + cap];
        int[] next = new int[groups.Length];
        int[] counts = new int[groups.Length];
        int group = 0;
        bool last;
        do
        {
            var w = new WireWriter(scratch.AsSpan(ProtocolConstants.MessageHeaderSize));
            w.U64(id);
            w.U16((ushort)chunks.Count);
            int flagsAt = w.Position;
            w.U8(0);
            w.U8(0);
            int countsAt = w.Position;
            Array.Clear(counts);
            foreach (RecordGroup _ in groups)
            {
                w.U16(0);
            }

            while (group < groups.Length)
            {
                if (next[group] == groups[group].Count)
                {
                    group++;
                }
                else if (w.Position + groups[group].MaxRecord <= cap)
                {
                    groups[group].Write(ref w, next[group]++);
                    counts[group]++;
                }
                else
                {
                    break;
                }
            }

            last = group == groups.Length;
            scratch[ProtocolConstants.MessageHeaderSize + flagsAt] = (byte)((last ? 1 : 0) | flags);
            for (int g = 0; g < groups.Length; g++)
            {
                w.PatchU16(countsAt + (2 * g), (ushort)counts[g]);
            }

            MessageWriter.WriteHeader(scratch, type, w.Position);
            chunks.Add(scratch.AsSpan(0, ProtocolConstants.MessageHeaderSize + w.Position).ToArray());
        }
        while (!last);
        return chunks;
    }

    public static byte[] ListRooms(string token) => Build(MessageType.ListRooms, 2 + ProtocolV2.MaxTokenLength, (ref WireWriter w, in string t) => w.Text16(t, ProtocolV2.MaxTokenLength), token);

    /// <summary>ROOM_LIST: as many rooms as fit in 1 MiB (the rest flagged as truncated).</summary>
    public static byte[] RoomList(IReadOnlyList<RoomListing> rooms)
    {
        byte[] scratch = new byte[ProtocolConstants.MessageHeaderSize + ProtocolV2.MaxRoomList];
        var w = new WireWriter(scratch.AsSpan(ProtocolConstants.MessageHeaderSize));
        w.U16(0);
        w.U8(0);
        w.U8(0);
        int listed = 0;
        bool truncated = false;
        foreach (RoomListing room in rooms)
        {
            // Worst case of one entry: fixed fields plus every record at its largest.
            long worst = 32 + 64 + ((long)room.Participants.Count * (17 + 64 * 3)) + ((long)room.Tracks.Count * (35 + (64 * 3) + (ProtocolV2.MaxTextLength * 3)));
            if (listed == ushort.MaxValue || w.Position + worst > ProtocolV2.MaxRoomList)
            {
                truncated = true;
                break;
            }

            int start = w.Position;
            w.U32(0);
            w.Text8(room.Name, ProtocolConstants.MaxRoomLength);
            w.U64(room.Epoch);
            w.U64(room.EventSequence);
            w.U32(room.HiddenWatchers);
            w.U16((ushort)room.Participants.Count);
            w.U16((ushort)room.Tracks.Count);
            foreach (ParticipantRecord p in room.Participants)
            {
                WriteParticipant(ref w, p);
            }

            foreach (TrackRecord t in room.Tracks)
            {
                WriteTrack(ref w, t);
            }

            w.PatchU32(start, (uint)(w.Position - start));
            listed++;
        }

        w.PatchU16(0, (ushort)listed);
        scratch[ProtocolConstants.MessageHeaderSize + 2] = (byte)(truncated ? 1 : 0);
        MessageWriter.WriteHeader(scratch, MessageType.RoomList, w.Position);
        return scratch.AsSpan(0, ProtocolConstants.MessageHeaderSize + w.Position).ToArray();
    }

    /// <summary>ERROR or GOODBYE (v1's layout, v2's codes).</summary>
    public static byte[] Close(MessageType type, ErrorCode code, string text)
    {
        byte[] b = new byte[MessageWriter.MaxControlMessageSize];
        int n = MessageWriter.WriteClose(b, type, code, text);
        return b.AsSpan(0, n).ToArray();
    }

    private static void WriteParticipant(ref WireWriter w, ParticipantRecord p)
    {
        int start = w.Position;
        w.U16(0);
        w.U8((byte)p.Transport);
        w.U8((byte)p.Flags);
        w.U32(p.ParticipantId);
        w.I64(p.JoinedAtMicros);
        w.Text8(p.Name, ProtocolV2.MaxNameLength);
        w.PatchU16(start, (ushort)(w.Position - start));
    }

    private static void WriteTrack(ref WireWriter w, TrackRecord t)
    {
        int start = w.Position;
        w.U16(0);
        w.U8((byte)(t.Live ? 1 : 0));
        w.U8(0);
        w.U32(t.ParticipantId);
        WriteDescription(ref w, t.Description);
        w.Text16(t.Live ? "" : t.Text, ProtocolV2.MaxTextLength);
        w.PatchU16(start, (ushort)(w.Position - start));
    }

    private static void WriteDescription(ref WireWriter w, TrackDescription d)
    {
        w.U16(d.TrackId);
        w.U8((byte)d.Kind);
        w.U8((byte)d.Codec);
        w.U8((byte)d.Source);
        w.U8(d.Flags);
        w.U16(d.A);
        w.U16(d.B);
        w.U8(d.Layers);
        w.U8(0);
        w.U32(d.Rate);
        w.U32(d.PacketMicros);
        w.U32(d.Bitrate);
        w.Text8(d.Name, ProtocolV2.MaxNameLength);
    }

    private delegate void Fields<T>(ref WireWriter writer, in T message);

    private static byte[] Build<T>(MessageType type, int maxPayload, Fields<T> fields, in T message)
    {
        byte[] scratch = new byte[ProtocolConstants.MessageHeaderSize + maxPayload];
        var w = new WireWriter(scratch.AsSpan(ProtocolConstants.MessageHeaderSize));
        fields(ref w, message);
        MessageWriter.WriteHeader(scratch, type, w.Position);
        return scratch.AsSpan(0, ProtocolConstants.MessageHeaderSize + w.Position).ToArray();
    }
}
