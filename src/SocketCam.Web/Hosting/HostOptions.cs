using SocketCam.Hub;
using SocketCam.Limits;
using SocketCam.Recording;
using SocketCam.Rooms;
using SocketCam.Seed;

namespace SocketCam.Web.Hosting;

/// <summary>
/// Everything <see cref="SocketCamHost"/> runs (what `socketcam serve` binds its flags to), in groups like NATS.Net's
/// NatsOpts: one per transport, where null is that transport off, and the settings they share. Defaults: the native
/// protocol on TCP 0.0.0.0:9999 and nothing else (`serve` also turns on UDP and HTTP by default).
/// </summary>
internal sealed record HostOptions
{
    /// <summary>The native protocol on TCP; default 0.0.0.0:9999. Null: no TCP listener (then <see cref="Unix"/> must be set).</summary>
    public TcpOptions? Tcp { get; init; } = new();

    /// <summary>The native protocol on a Unix domain socket; default null (none).</summary>
    public UnixOptions? Unix { get; init; }

    /// <summary>UDP live video; default null (none).</summary>
    public UdpOptions? Udp { get; init; }

    /// <summary>
    /// HTTP: pages, MJPEG, snapshots, WebSockets, JSON, metrics (docs/HTTP.md); default null (none). Its token, when not
    /// set, is <see cref="SessionOptions.Token"/>: a hub with a token never has an open HTTP side by omission.
    /// </summary>
    public HttpOptions? Http { get; init; }

    /// <summary>The seed tutorials' format for one room (docs/SEED-COMPAT.md); default null (none).</summary>
    public SeedOptions? Seed { get; init; }

    /// <summary>Record every room into a directory; default null (no recording).</summary>
    public RecordingDirectoryOptions? Recording { get; init; }

    /// <summary>What every native session is held to: token, frame cap, timeouts, connection cap, shutdown grace; defaults in <see cref="SessionOptions"/>.</summary>
    public SessionOptions Sessions { get; init; } = new();

    /// <summary>Per-address caps, byte budgets, data rates and throttles of every transport; defaults in <see cref="LimitOptions"/> (docs/LIMITS.md).</summary>
    public LimitOptions Limits { get; init; } = new();

    /// <summary>What each room allows its v2 participants; defaults in <see cref="RoomLimits"/> (docs/PROTOCOL.md §4.11).</summary>
    public RoomLimits Rooms { get; init; } = new();

    /// <summary>Text chat and its SQLite store (docs/CHAT.md); default null (no chat). `serve` turns it on in `--data DIR`.</summary>
    public SocketCam.Chat.ChatOptions? Chat { get; init; }

    /// <summary>The rooms peers may open (`serve --rooms`); default null: any (<see cref="HubOptions.FixedRooms"/>).</summary>
    public IReadOnlyList<string>? FixedRooms { get; init; }

    /// <summary>Most rooms open at once (`serve --max-rooms`); default 100 (<see cref="HubOptions.MaxRooms"/>).</summary>
    public int MaxRooms { get; init; } = new HubOptions().MaxRooms;

    /// <summary>The hub's own captures, each into its room; default none (publishers feed every room).</summary>
    public IReadOnlyList<HostCapture> Captures { get; init; } = [];

    /// <summary>The hub's share of these options.</summary>
    public HubOptions ToHubOptions() => new() { Tcp = Tcp, Unix = Unix, Udp = Udp, Sessions = Sessions, Limits = Limits, Rooms = Rooms, Chat = Chat, FixedRooms = FixedRooms, MaxRooms = MaxRooms };
}
