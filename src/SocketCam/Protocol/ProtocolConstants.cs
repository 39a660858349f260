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
}

/// <summary>Message types (docs/PROTOCOL.md §1.2).</summary>
internal enum MessageType : byte
{
    Hello = 0x01,
    Welcome = 0x02,
    VideoFrame = 0x10,
    Signal = 0x11,
    Ping = 0x20,
    Pong = 0x21,
    Error = 0x30,
    Goodbye = 0x31,
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
        _ => $"error-{(ushort)code}",
    };
}
