using SocketCam.Limits;
using SocketCam.Rooms;

namespace SocketCam.Hub;

/// <summary>
/// Settings of a hub server, in groups: one per transport (a null transport group is that transport off) and the
/// settings every transport shares. Defaults suit a LAN camera server: TCP on 0.0.0.0:9999, no Unix socket, no UDP.
/// The whole server (hub, seed listener, HTTP, recording, capture) is composed from <c>SocketCam.Web.Hosting.HostOptions</c>,
/// which holds these same groups.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The native protocol on TCP; default 0.0.0.0:9999 (<see cref="TcpOptions"/>). Null: no TCP listener (then <see cref="Unix"/> must be set).</summary>
    public TcpOptions? Tcp { get; init; } = new();

    /// <summary>The native protocol also (or only) on a Unix domain socket; default null (none).</summary>
    public UnixOptions? Unix { get; init; }

    /// <summary>UDP live video (docs/PROTOCOL.md §2.0); default null (no UDP). `serve` defaults to 0.0.0.0:9999.</summary>
    public UdpOptions? Udp { get; init; }

    /// <summary>What every native session (TCP, Unix, UDP) is held to: token, frame cap, timeouts, connection count (<see cref="SessionOptions"/>).</summary>
    public SessionOptions Sessions { get; init; } = new();

    /// <summary>Per-address caps, byte budgets, data rates and throttles shared by every transport (docs/LIMITS.md).</summary>
    public LimitOptions Limits { get; init; } = new();

    /// <summary>What each room allows its v2 participants: participants, tracks, subscriptions, requests, queues (docs/PROTOCOL.md §4.11).</summary>
    public RoomLimits Rooms { get; init; } = new();

    /// <summary>Text chat and its SQLite store (docs/CHAT.md); default null (no chat: the hub does not announce it). `serve` turns it on.</summary>
    public Chat.ChatOptions? Chat { get; init; }

    /// <summary>
    /// The rooms peers may open (`serve --rooms a,b`); default null: any room a peer names is opened when first used.
    /// With a list, another room needs a token with the create (or admin) grant.
    /// </summary>
    public IReadOnlyList<string>? FixedRooms { get; init; }

    /// <summary>Most rooms open at once (`serve --max-rooms`); default 100. A peer naming one more is refused (`room_limit` in /metrics).</summary>
    public int MaxRooms { get; init; } = 100;
}
