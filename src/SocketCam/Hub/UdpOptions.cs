using System.Net;

namespace SocketCam.Hub;

/// <summary>UDP live video (`serve --udp`; docs/PROTOCOL.md §2.0): frames in datagrams, with parity and resends.</summary>
public sealed record UdpOptions
{
    /// <summary>Where to listen; default 0.0.0.0:9999 (the TCP listener's default port, as UDP). Port 0 picks a free port.</summary>
    public IPEndPoint EndPoint { get; init; } = new(IPAddress.Any, 9999);

    /// <summary>A UDP session the hub hears nothing from for this long is dropped; default 5 s (clients ping every 500 ms).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The byte rate UDP frames are paced to, per session; default 100 MB/s.</summary>
    public double PacingBytesPerSecond { get; init; } = 100e6;

    /// <summary>
    /// When <see cref="EndPoint"/> is already taken, <c>SocketCamHost</c> runs without UDP (warning, not failing) instead of
    /// refusing to start; default false. `serve` sets it for its default address only. <see cref="HubServer"/> ignores it.
    /// </summary>
    public bool SkipIfAddressInUse { get; init; }
}
