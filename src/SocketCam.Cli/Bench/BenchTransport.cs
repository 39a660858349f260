using System.Net;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Transport;

namespace SocketCam.Cli.Bench;

/// <summary>What `bench --transport` carries the stream over. A new transport is one more member and one more case in each switch below.</summary>
internal enum BenchTransport
{
    Tcp, // first: the default when --transport is not given
    Unix,
    Udp,
    Tls, // TCP on loopback with TLS (serve --tls), the viewers pinning the certificate
    UdpTls, // encrypted UDP (udp+tls://): keys over TLS, every datagram sealed with AES-GCM
}

internal static class BenchTransports
{
    public const string Names = "tcp|tls|udp|udp+tls|unix";

    public static bool TryParse(string text, out BenchTransport transport)
    {
        switch (text.ToLowerInvariant())
        {
            case "tcp":
                transport = BenchTransport.Tcp;
                return true;
            case "unix":
                transport = BenchTransport.Unix;
                return true;
            case "udp":
                transport = BenchTransport.Udp;
                return true;
            case "tls":
                transport = BenchTransport.Tls;
                return true;
            case "udp+tls":
                transport = BenchTransport.UdpTls;
                return true;
            default:
                transport = default;
                return false;
        }
    }

    public static string Name(BenchTransport transport) => transport switch
    {
        BenchTransport.Tcp => "tcp",
        BenchTransport.Unix => "unix",
        BenchTransport.Udp => "udp",
        BenchTransport.Tls => "tls",
        BenchTransport.UdpTls => "udp+tls",
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };

    /// <summary>The bench hub's listener: TCP on loopback, or only a Unix socket at <paramref name="unixPath"/>.</summary>
    public static HubOptions HubOptions(BenchTransport transport, string unixPath) => transport switch
    {
        BenchTransport.Tcp => new HubOptions { Tcp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) } },
        BenchTransport.Unix => new HubOptions { Tcp = null, Unix = new() { Path = unixPath } },
        BenchTransport.Udp => new HubOptions { Tcp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) }, Udp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) } },
        BenchTransport.Tls => new HubOptions { Tcp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), Certificate = Certificate.Value } },
        BenchTransport.UdpTls => new HubOptions { Tcp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), Certificate = Certificate.Value }, Udp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) } },
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };

    /// <summary>Where the bench's viewers connect once the hub has started.</summary>
    public static StreamEndpoint Endpoint(BenchTransport transport, HubServer hub) => transport switch
    {
        BenchTransport.Tcp => new StreamEndpoint("tcp", "127.0.0.1", hub.TcpEndPoint.Port),
        BenchTransport.Unix => StreamEndpoint.Unix(hub.UnixSocketPath!),
        BenchTransport.Udp => new StreamEndpoint("udp", "127.0.0.1", hub.UdpEndPoint!.Port),
        BenchTransport.Tls => new StreamEndpoint(StreamEndpoint.TlsScheme, "127.0.0.1", hub.TcpEndPoint.Port),
        BenchTransport.UdpTls => new StreamEndpoint("udp+tls", "127.0.0.1", hub.TcpEndPoint.Port),
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };

    /// <summary>How the viewers trust the bench hub: tls pins its certificate (as `--fingerprint` would); null for the others.</summary>
    public static Client.TlsClientOptions? ClientTls(BenchTransport transport) => transport is BenchTransport.Tls or BenchTransport.UdpTls
        ? new Client.TlsClientOptions { Fingerprint = Certificate.Value.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256) }
        : null;

    /// <summary>
    /// The tls bench's certificate: the same kind `serve --tls` makes (ECDSA P-256), made once per process in a temporary
    /// directory that is removed at once (the certificate and key stay in memory).
    /// </summary>
    private static readonly Lazy<System.Security.Cryptography.X509Certificates.X509Certificate2> Certificate = new(() =>
    {
        DirectoryInfo directory = Directory.CreateTempSubdirectory("socketcam-bench-tls-");
        try
        {
            return Web.Tls.ServerCertificate.LoadOrCreate(directory.FullName).Certificate;
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    });

    /// <summary>
    /// A socket path of this process's own in the temp directory, short enough for sockaddr_un even under a long
    /// TMPDIR (then /tmp is used).
    /// </summary>
    public static string TemporarySocketPath()
    {
        string name = $"socketcam-bench-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40] + ".sock";
        string path = Path.Combine(Path.GetTempPath(), name);
        return System.Text.Encoding.UTF8.GetByteCount(path) <= StreamEndpoint.MaxUnixPathBytes ? path : Path.Combine("/tmp", name);
    }
}
