using System.Net;

namespace SocketCam.Hub;

/// <summary>The native protocol's TCP listener (`serve --listen`).</summary>
public sealed record TcpOptions
{
    /// <summary>Where to listen; default 0.0.0.0:9999 (all IPv4 interfaces). Port 0 picks a free port.</summary>
    public IPEndPoint EndPoint { get; init; } = new(IPAddress.Any, 9999);
}
