using System.Net;

namespace SocketCam.Hub;

/// <summary>The native protocol's TCP listener (`serve --listen`).</summary>
public sealed record TcpOptions
{
    /// <summary>Where to listen; default 0.0.0.0:9999 (all IPv4 interfaces). Port 0 picks a free port.</summary>
    public IPEndPoint EndPoint { get; init; } = new(IPAddress.Any, 9999);

    /// <summary>
    /// TLS on this listener (`serve --tls`, docs/PROTOCOL.md §1.5): the hub's certificate with its private key; default
    /// null (plaintext). TLS 1.2 and 1.3 only; a plaintext client is told in one line to use tls://.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }
}
