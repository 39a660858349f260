using SocketCam.Media;

namespace SocketCam.Protocol;

/// <summary>§4.4 source: what is behind a track (informative).</summary>
public enum TrackSource : byte
{
    Unknown = 0,
    Camera = 1,
    Screen = 2,
    Microphone = 3,
    ScreenAudio = 4,
    File = 5,
    Synthetic = 6,
}

/// <summary>§4.4 transport: how a participant came.</summary>
public enum ParticipantTransport : byte
{
    Other = 0,
    Hub = 1,
    Tcp = 2,
    Unix = 3,
    Udp = 4,
    WebSocket = 5,
    SeedTcp = 6,
    Tls = 7,
}

/// <summary>§4.5 participant_flags.</summary>
[Flags]
public enum ParticipantFlags : byte
{
    None = 0,
    SpeaksV1 = 1,
    HubSource = 2,
}

/// <summary>JOIN (§4.6.1), with §4.15's resume fields appended: the last chat_seq shown and the store it came from (0, 0 = none).</summary>
internal readonly record struct JoinMessage(ulong Features, bool Hidden, string Room, string Name, string Token, string Agent, ulong ChatAfter = 0, ulong ChatStore = 0);

/// <summary>WELCOME of a v2 session (§4.6.1): v1's fields, then the participant, the room epoch and the limits.</summary>
public readonly record struct WelcomeV2Message(
    ulong SessionId,
    long ServerTimeMicros,
    uint MaxFrameBytes,
    uint ParticipantId,
    ulong RoomEpoch,
    ulong Features,
    uint Permissions,
    ushort MaxTracks,
    ushort MaxSubscriptions,
    ushort MaxParticipants,
    ushort RequestBurst,
    ushort RequestRate,
    ushort KeyframeIntervalMs,
    uint ControlQueueMessages,
    uint ControlQueueBytes,
    ChatTerms? Chat = null);

/// <summary>WELCOME's chat fields (§4.15), present when the hub announces the chat feature.</summary>
public sealed record ChatTerms(ulong Store, ushort MaxBytes, ushort Burst, ushort RateX10, ushort History);

/// <summary>RESULT (§4.6.2): code 0 = done, else a refusal (nothing changed). A CHAT_SEND's ok carries the stored message's chat_seq and time (§4.15).</summary>
public readonly record struct ResultMessage(uint RequestId, ErrorCode Code, uint Value, string Text, ulong ChatSeq = 0, long ChatSentAtMicros = 0);

/// <summary>A track description (§4.5): what a publisher declares and the hub repeats. Video: A = width, B = height; audio: A = channels.</summary>
public sealed record TrackDescription(
    ushort TrackId,
    TrackKind Kind,
    CodecId Codec,
    TrackSource Source,
    string Name,
    ushort A = 0,
    ushort B = 0,
    uint Rate = 0,
    uint PacketMicros = 0,
    uint Bitrate = 0,
    byte Flags = 0,
    byte Layers = 0)
{
    public const int FixedSize = 25;
}

/// <summary>A participant record (§4.5).</summary>
public sealed record ParticipantRecord(uint ParticipantId, ParticipantTransport Transport, ParticipantFlags Flags, long JoinedAtMicros, string Name);

/// <summary>A track record (§4.5): its publisher, state and description.</summary>
public sealed record TrackRecord(uint ParticipantId, bool Live, TrackDescription Description, string Text);

/// <summary>SUBSCRIBE / UNSUBSCRIBE (§4.6.3).</summary>
internal readonly record struct SubscribeMessage(uint RequestId, uint ParticipantId, ushort TrackId, byte Kinds, byte MaxLayer);

/// <summary>KEYFRAME_REQUEST (§4.6.5).</summary>
public readonly record struct KeyframeRequestMessage(uint ParticipantId, ushort TrackId, byte Reason);

/// <summary>SOURCE_STATE (§4.6.6).</summary>
internal readonly record struct SourceStateMessage(ushort TrackId, bool Live, string Text);

/// <summary>One room of ROOM_LIST (§4.6.7).</summary>
public sealed record RoomListing(string Name, ulong Epoch, ulong EventSequence, uint HiddenWatchers, IReadOnlyList<ParticipantRecord> Participants, IReadOnlyList<TrackRecord> Tracks);

/// <summary>A room event as a client reads it (§4.7).</summary>
public abstract record RoomEvent(ulong Sequence);

/// <summary>One chunk of ROOM_SNAPSHOT.</summary>
public sealed record RoomSnapshotChunk(ulong Sequence, int Chunk, bool Last, IReadOnlyList<ParticipantRecord> Participants, IReadOnlyList<TrackRecord> Tracks) : RoomEvent(Sequence);

public sealed record ParticipantJoinedEvent(ulong Sequence, ParticipantRecord Participant) : RoomEvent(Sequence);

public sealed record ParticipantLeftEvent(ulong Sequence, uint ParticipantId, ErrorCode Reason) : RoomEvent(Sequence);

public sealed record TrackPublishedEvent(ulong Sequence, TrackRecord Track) : RoomEvent(Sequence);

public sealed record TrackUnpublishedEvent(ulong Sequence, uint ParticipantId, ushort TrackId, ErrorCode Reason) : RoomEvent(Sequence);

public sealed record TrackStateEvent(ulong Sequence, uint ParticipantId, ushort TrackId, bool Live, string Text) : RoomEvent(Sequence);

/// <summary>A stored chat message (§4.15's chat record): its hub-assigned sequence and time, who sent it (the id is of the epoch it was sent in) and the text.</summary>
public sealed record ChatMessage(ulong Seq, long SentAtMicros, uint ParticipantId, ulong ClientMessageId, string Name, string Text)
{
    /// <summary><see cref="SentAtMicros"/> as a date; a time out of range (a hub that sends nonsense) is the epoch, never an exception.</summary>
    public DateTimeOffset SentAt =>
        SentAtMicros / 1000 is >= -62_135_596_800_000 and <= 253_402_300_799_999 ? DateTimeOffset.FromUnixTimeMilliseconds(SentAtMicros / 1000) : DateTimeOffset.UnixEpoch;
}

/// <summary>CHAT_SEND (§4.15).</summary>
internal readonly record struct ChatSendMessage(uint RequestId, ulong ClientMessageId, string Text);

/// <summary>CHAT_MESSAGE (0xC6, §4.15): a chat message announced to the room, already stored.</summary>
public sealed record ChatMessageEvent(ulong Sequence, ChatMessage Message) : RoomEvent(Sequence);

/// <summary>One chunk of CHAT_HISTORY (§4.15).</summary>
/// <param name="Reset">The client's chat_after is beyond the store's end (a restored backup): it starts again from this history.</param>
public sealed record ChatHistoryChunk(ulong Store, int Chunk, bool Last, bool Truncated, IReadOnlyList<ChatMessage> Messages, bool Reset = false);

/// <summary>An optional room event (0xC0-0xCF) this build does not know: skipped, its sequence still counted.</summary>
public sealed record UnknownRoomEvent(ulong Sequence, byte Type) : RoomEvent(Sequence);
