using System.Net;
using SocketCam.Media;

using SocketCam.Rooms;

namespace SocketCam.Hub;

/// <summary>Settings of a hub server. Defaults suit a LAN camera server.</summary>
public sealed record HubOptions
{
    /// <summary>
    /// Where the native protocol listens on TCP; default 0.0.0.0:9999 (all IPv4 interfaces). Port 0 picks a free port.
    /// Null: no TCP listener (then <see cref="UnixSocketPath"/> must be set).
    /// </summary>
    public IPEndPoint? TcpEndPoint { get; init; } = new(IPAddress.Any, 9999);

    /// <summary>
    /// Also (or only) listen on this Unix domain socket, same protocol as TCP; default null (none). A stale socket file
    /// from a crash is replaced, a live one is not; the file is removed on shutdown (<see cref="Transport.UnixSocketListener"/>).
    /// </summary>
    public string? UnixSocketPath { get; init; }

    /// <summary>Where UDP live video listens (docs/PROTOCOL.md §2.0); null (default) = no UDP. `serve` defaults to 0.0.0.0:9999.</summary>
    public IPEndPoint? UdpEndPoint { get; init; }

    /// <summary>A UDP session the hub hears nothing from for this long is dropped; default 5 s (clients ping every 500 ms).</summary>
    public TimeSpan UdpIdleTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The byte rate UDP frames are paced to, per session; default 100 MB/s.</summary>
    public double UdpPacingBytesPerSecond { get; init; } = 100e6;

    /// <summary>Shared secret clients must present in HELLO; null (default) lets anyone in.</summary>
    public string? Token { get; init; }

    /// <summary>Cap on one frame's picture data; default 16 MiB. Larger frames end the sender's session.</summary>
    public int MaxFrameBytes { get; init; } = FrameLimits.DefaultMaxFrameBytes;

    /// <summary>Time a new connection has to send its preface and HELLO; default 5 s.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A client that sends nothing for this long is disconnected; default 15 s (clients ping every second).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Connections beyond this are refused; default 4096.</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>What each room allows its v2 participants: participants, tracks, subscriptions, requests, queues (docs/PROTOCOL.md §4.11).</summary>
    public RoomLimits Rooms { get; init; } = new();

    /// <summary>Per-address caps, byte budgets, data rates and throttles shared by every transport (docs/LIMITS.md).</summary>
    public Limits.LimitOptions Limits { get; init; } = new();

    /// <summary>How long shutdown waits for clients to take their GOODBYE; default 2 s.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(2);
}
