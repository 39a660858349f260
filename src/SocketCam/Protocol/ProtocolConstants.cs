namespace SocketCam.Protocol;

/// <summary>Numbers fixed by docs/PROTOCOL.md.</summary>
internal static class ProtocolConstants
{
    /// <summary>"SCAM" read as a big-endian 32-bit integer.</summary>
    public const uint Magic = 0x5343414D;

    public const ushort Version = 1;

    public const int PrefaceSize = 8;

    public const int MessageHeaderSize = 8;

    public const int VideoFrameHeaderSize = 24;

    /// <summary>Bytes in front of a frame's picture data in a complete VIDEO_FRAME message.</summary>
    public const int FrameMessageOverhead = MessageHeaderSize + VideoFrameHeaderSize;

    public const int MaxRoomLength = 64;

    public const int MaxTokenLength = 255;

    public const int MaxAgentLength = 64;

    public const int MaxErrorTextLength = 1024;

    /// <summary>SIGNAL: state, reserved and text_len in front of the text.</summary>
    public const int SignalFixedSize = 4;

    public const int MaxSignalTextLength = 1024;

    public const byte SignalStateNone = 0;

    public const byte SignalStateLive = 1;

    public const int MaxControlPayload = 1024;

    public const int PingPayloadSize = 16;

    public const int PongPayloadSize = 24;

    public const int WelcomePayloadSize = 20;

    /// <summary>v2 FRAME's fixed header (docs/PROTOCOL.md §4.6.4).</summary>
    public const int FrameV2HeaderSize = 32;
}

/// <summary>Message types (docs/PROTOCOL.md §1.2).</summary>
internal enum MessageType : byte
{
    Hello = 0x01,
    Welcome = 0x02,
    Join = 0x03,
    Result = 0x04,
    ListRooms = 0x05,
    RoomList = 0x06,
    VideoFrame = 0x10,
    Signal = 0x11,
    Frame = 0x12,
    KeyframeRequest = 0x13,
    SourceState = 0x14,
    Ping = 0x20,
    Pong = 0x21,
    Error = 0x30,
    Goodbye = 0x31,
    RoomSnapshot = 0x40,
    ParticipantJoined = 0x41,
    ParticipantLeft = 0x42,
    TrackPublished = 0x43,
    TrackUnpublished = 0x44,
    TrackState = 0x45,
    Publish = 0x50,
    Unpublish = 0x51,
    Subscribe = 0x52,
    Unsubscribe = 0x53,
    ChatSend = 0x54,

    /// <summary>v1 over TLS, instead of HELLO: keys for an encrypted UDP session (docs/PROTOCOL.md §2.0 "Encrypted sessions").</summary>
    UdpKeyRequest = 0x60,

    /// <summary>The answer to <see cref="UdpKeyRequest"/>: the session id, UDP port, keys and salts.</summary>
    UdpKey = 0x61,
    ChatHistory = 0x87,
    ChatMessage = 0xC6,
}

/// <summary>What a client wants to do in a room.</summary>
public enum PeerRole : byte
{
    Publisher = 1,
    Viewer = 2,
}

/// <summary>Codes carried by ERROR and GOODBYE (docs/PROTOCOL.md §1.4).</summary>
public enum ErrorCode : ushort
{
    Normal = 0,
    BadMagic = 1,
    UnsupportedVersion = 2,
    Malformed = 3,
    TooLarge = 4,
    Unauthorized = 5,
    HandshakeTimeout = 6,
    RoomBusy = 7,
    BadFrame = 8,
    ServerShutdown = 9,
    IdleTimeout = 10,
    TooManyClients = 11,
    Throttled = 12,
    TooSlow = 13,
    OverBudget = 14,
    UnknownType = 15,
    RoomFull = 16,
    TrackExists = 17,
    UnknownTrack = 18,
    NotPublished = 19,
    TooManyTracks = 20,
    TooManySubscriptions = 21,
    RateLimited = 22,
    SlowConsumer = 23,
    UnsupportedMedia = 24,
    NotAllowed = 25,
    ConnectionLost = 26,
    Unavailable = 27,
}

internal static class ErrorCodeNames
{
    public static string ToWireName(this ErrorCode code) => code switch
    {
        ErrorCode.Normal => "normal",
        ErrorCode.BadMagic => "bad-magic",
        ErrorCode.UnsupportedVersion => "unsupported-version",
        ErrorCode.Malformed => "malformed",
        ErrorCode.TooLarge => "too-large",
        ErrorCode.Unauthorized => "unauthorized",
        ErrorCode.HandshakeTimeout => "handshake-timeout",
        ErrorCode.RoomBusy => "room-busy",
        ErrorCode.BadFrame => "bad-frame",
        ErrorCode.ServerShutdown => "server-shutdown",
        ErrorCode.IdleTimeout => "idle-timeout",
        ErrorCode.TooManyClients => "too-many-clients",
        ErrorCode.Throttled => "throttled",
        ErrorCode.TooSlow => "too-slow",
        ErrorCode.OverBudget => "over-budget",
        ErrorCode.UnknownType => "unknown-type",
        ErrorCode.RoomFull => "room-full",
        ErrorCode.TrackExists => "track-exists",
        ErrorCode.UnknownTrack => "unknown-track",
        ErrorCode.NotPublished => "not-published",
        ErrorCode.TooManyTracks => "too-many-tracks",
        ErrorCode.TooManySubscriptions => "too-many-subscriptions",
        ErrorCode.RateLimited => "rate-limited",
        ErrorCode.SlowConsumer => "slow-consumer",
        ErrorCode.UnsupportedMedia => "unsupported-media",
        ErrorCode.NotAllowed => "not-allowed",
        ErrorCode.ConnectionLost => "connection-lost",
        ErrorCode.Unavailable => "unavailable",
        _ => $"error-{(ushort)code}",
    };
}

/// <summary>Numbers fixed by docs/PROTOCOL.md Part II (version 2).</summary>
internal static class ProtocolV2
{
    public const ushort Version = 2;

    /// <summary>The highest version this build speaks (the hub's preface offset 6).</summary>
    public const ushort MaxVersion = 2;

    /// <summary>Bit 7 of a type code: a receiver that does not know the type skips it (§4.2).</summary>
    public const byte OptionalBit = 0x80;

    public const int MaxOptionalPayload = 64 * 1024;

    public const int FrameHeaderSize = 32;

    public const int MaxFrameExtension = 1024;

    public const int MaxAudioFrameBytes = 16 * 1024;

    public const int MaxNameLength = 64;

    public const int MaxTokenLength = 4096;

    public const int MaxTextLength = 1024;

    public const int WelcomePayloadSize = 64;

    public const int MaxSnapshotChunk = 64 * 1024;

    public const int MaxRoomList = 1024 * 1024;

    public const uint AnyParticipant = 0xFFFFFFFF;

    public const ushort AnyTrack = 0xFFFF;

    public const uint PermissionPublish = 1;

    public const uint PermissionSubscribe = 2;

    /// <summary>§4.15: this participant may send chat.</summary>
    public const uint PermissionChat = 4;

    /// <summary>features bit 0 (§4.15): chat store on the hub, CHAT_SEND and CHAT_HISTORY understood by the client.</summary>
    public const ulong FeatureChat = 1;

    /// <summary>The cap on a chat message's text in UTF-8 bytes (§4.15).</summary>
    public const int MaxChatText = 4096;

    /// <summary>CHAT_SEND's payload cap: above the text cap, so an oversize text is refused with a RESULT, not ended with an ERROR.</summary>
    public const int MaxChatSend = 64 * 1024;

    /// <summary>At most this many messages in one session's CHAT_HISTORY when it resumes (the newest; truncated flagged).</summary>
    public const int MaxResumeMessages = 1000;

    /// <summary>A chat record's fixed bytes (§4.15): record_len, chat_seq, sent_at_us, participant_id, client_msg_id, name_len, text_len.</summary>
    public const int ChatRecordFixedSize = 33;

    /// <summary>WELCOME's size with the chat fields appended (§4.15).</summary>
    public const int WelcomeChatPayloadSize = 80;
}
