using SocketCam.Diagnostics;
using SocketCam.Rooms;

namespace SocketCam.Hub;

/// <summary>What a client of the hub is, whatever carries it (labels: <see cref="ClientKinds.Label"/>).</summary>
public enum ClientKind
{
    /// <summary>A TCP/Unix connection before its handshake.</summary>
    Connecting,

    /// <summary>A protocol v1 viewer over TCP or a Unix socket.</summary>
    Viewer,

    /// <summary>A protocol v1 publisher over TCP or a Unix socket.</summary>
    Publisher,

    /// <summary>A protocol v2 participant (listed in its room).</summary>
    Participant,

    /// <summary>A hidden protocol v2 participant (watches without being listed).</summary>
    V2Watcher,

    /// <summary>A seed-format client (`serve --seed-tcp`).</summary>
    Seed,

    /// <summary>An HTTP `stream.mjpg` client.</summary>
    Mjpeg,

    /// <summary>A browser's watch WebSocket.</summary>
    WebSocketWatcher,

    /// <summary>A browser's publish WebSocket.</summary>
    WebSocketPublisher,

    /// <summary>A viewer over UDP.</summary>
    UdpViewer,

    /// <summary>A publisher over UDP.</summary>
    UdpPublisher,
}

/// <summary>The stable names of <see cref="ClientKind"/>s.</summary>
public static class ClientKinds
{
    /// <summary>The kind's name in `/api/stats`, `/api/rooms` and `/metrics` (stable: scripts and dashboards match on it).</summary>
    public static string Label(ClientKind kind) => kind switch
    {
        ClientKind.Connecting => "connecting",
        ClientKind.Viewer => "viewer",
        ClientKind.Publisher => "publisher",
        ClientKind.Participant => "participant",
        ClientKind.V2Watcher => "v2-watcher",
        ClientKind.Seed => "seed",
        ClientKind.Mjpeg => "mjpeg",
        ClientKind.WebSocketWatcher => "websocket",
        ClientKind.WebSocketPublisher => "websocket-publisher",
        ClientKind.UdpViewer => "udp-viewer",
        ClientKind.UdpPublisher => "udp-publisher",
        _ => kind.ToString(),
    };
}

/// <summary>
/// What every client of the hub reports, whatever its transport, for `/api/stats`, `/api/rooms`, `/metrics` and serve's
/// status line (through <see cref="ClientRegistry"/>). A viewer names its <see cref="Feed"/> and a publisher its
/// <see cref="Received"/> counters; the figures come from those unless a client knows better.
/// </summary>
public interface IClientStats
{
    /// <summary>What the client is (its transport and role).</summary>
    ClientKind Kind { get; }

    /// <summary>Who it is, for people: its address and port, or its Unix peer.</summary>
    string Remote { get; }

    /// <summary>The room it watches or feeds (null before its handshake).</summary>
    string? RoomName { get; }

    /// <summary>What is sent to it (a viewer's delivery core), or null.</summary>
    ViewerFeed? Feed => null;

    /// <summary>What it sends (a publisher's frames), or null.</summary>
    ReceiveCounters? Received => null;

    /// <summary>Frames sent to it.</summary>
    long FramesSent => Feed?.FramesSent ?? 0;

    /// <summary>Bytes sent to it (frames and control messages as they went out).</summary>
    long BytesSent => Feed?.BytesSent ?? 0;

    /// <summary>A viewer: frames replaced in its slot before it could take them (it skipped to a newer one). A publisher: frames not published.</summary>
    long FramesDropped => Feed?.Dropped ?? 0;

    /// <summary>Frames sent per second over the last <see cref="RateMeter.Window"/>.</summary>
    double SendFps => Feed?.PerSecond ?? 0;

    /// <summary>Capture → sent of the last frame (µs, on the hub's clock), or -1.</summary>
    long LastLatencyMicros => Feed?.LastLatencyMicros ?? -1;

    /// <summary>Frames it sent that were published.</summary>
    long FramesReceived => Received?.FramesReceived ?? 0;

    /// <summary>Bytes of the frames it sent that were published.</summary>
    long BytesReceived => Received?.BytesReceived ?? 0;

    /// <summary>Frames received per second over the last <see cref="RateMeter.Window"/>.</summary>
    double ReceiveFps => Received?.PerSecond ?? 0;
}

/// <summary>
/// What a publisher's receive side counts (TCP/Unix, UDP, WebSocket): frames it sent that were published, their bytes,
/// and the rate. Written by its receive loop, read from anywhere.
/// </summary>
public sealed class ReceiveCounters
{
    private readonly RateMeter _rate = new();
    private long _frames;
    private long _bytes;

    /// <summary>Frames received from the publisher and published.</summary>
    public long FramesReceived => Interlocked.Read(ref _frames);

    internal long BytesReceived => Interlocked.Read(ref _bytes);

    /// <summary>Frames received per second over the last <see cref="RateMeter.Window"/>.</summary>
    internal double PerSecond => _rate.PerSecond();

    /// <summary>Counts one frame of <paramref name="bytes"/> received and published (called by the receive loop).</summary>
    public void OnReceived(int bytes)
    {
        Interlocked.Increment(ref _frames);
        Interlocked.Add(ref _bytes, bytes);
        _rate.Mark();
    }
}
