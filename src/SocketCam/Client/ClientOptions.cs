using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Client;

/// <summary>Settings shared by `view` and `publish`.</summary>
public record ClientOptions
{
    /// <summary>Room to join; default "main".</summary>
    public string Room { get; init; } = RoomName.Default;

    /// <summary>Token the hub asks for (its --token); default none.</summary>
    public string? Token { get; init; }

    /// <summary>Largest frame accepted or sent; default 16 MiB.</summary>
    public int MaxFrameBytes { get; init; } = FrameLimits.DefaultMaxFrameBytes;

    /// <summary>Reconnect with backoff when the hub goes away; default true.</summary>
    public bool Reconnect { get; init; } = true;

    /// <summary>Time allowed to connect and finish the handshake; default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often to PING the hub (keeps the session alive, measures RTT and clock offset); default 1 s.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A session that receives nothing at all (no frame, PING, PONG) for this long counts as lost and is retried;
    /// default 15 s. The hub answers the client's pings, so a healthy session never stays silent this long.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Longest pause between reconnect attempts; default 5 s (starts at 250 ms, doubling).</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>UDP only: parity and NACK-driven resends (docs/PROTOCOL.md §2.0); default true. False is for comparisons.</summary>
    public bool UdpRecovery { get; init; } = true;

    /// <summary>UDP only: the byte rate a publisher paces its datagrams to; default 100 MB/s.</summary>
    public double UdpPacingBytesPerSecond { get; init; } = 100e6;

    /// <summary>How a `tls://` hub's certificate is trusted (`--ca`, `--fingerprint`); default null: the system store and the host name.</summary>
    public TlsClientOptions? Tls { get; init; }

    /// <summary>Free text sent in HELLO for the hub's logs.</summary>
    public string Agent { get; init; } = "socketcam";
}

/// <summary>Settings of a viewer.</summary>
public sealed record ViewerOptions : ClientOptions
{
    /// <summary>Decode every frame (default). False only checks each frame's framing, like a load generator.</summary>
    public bool Decode { get; init; } = true;

    /// <summary>Watch this participant's video (by display name, case-insensitive; protocol v2); null = the room's primary video.</summary>
    public string? Participant { get; init; }

    /// <summary>Watch the track with this label (its name, its source such as camera or screen, or its id); null = the first video track.</summary>
    public string? Track { get; init; }

    /// <summary>
    /// Over udp://: ask for H.264 as it is (HELLO flag bit 3; default, the viewer decodes it). False: the room's JPEG, as a
    /// viewer that predates H.264 gets (tests compare the two).
    /// </summary>
    internal bool UdpH264 { get; init; } = true;
}
