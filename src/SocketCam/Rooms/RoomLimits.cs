namespace SocketCam.Rooms;

/// <summary>
/// What one room allows each participant (docs/PROTOCOL.md §4.11), announced in WELCOME so a well-behaved client never
/// meets them. Defaults: 64 visible participants, 16 tracks and 64 subscription entries each, a request bucket of 64
/// refilled at 16/s, keyframe requests forwarded at most every 500 ms, a control queue of 1024 messages and 1 MiB.
/// </summary>
public sealed record RoomLimits
{
    public int MaxParticipants { get; init; } = 64;

    public int MaxTracks { get; init; } = 16;

    public int MaxSubscriptions { get; init; } = 64;

    public int RequestBurst { get; init; } = 64;

    public int RequestsPerSecond { get; init; } = 16;

    public TimeSpan KeyframeInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    public int ControlQueueMessages { get; init; } = 1024;

    public int ControlQueueBytes { get; init; } = 1024 * 1024;

    /// <summary>How long the write of one message to a v2 connection may take before it is a slow consumer (default 30 s).</summary>
    public TimeSpan SendStallTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
