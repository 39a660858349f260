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
}

internal static class BenchTransports
{
    public const string Names = "tcp|udp|unix";

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
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };

    /// <summary>The bench hub's listener: TCP on loopback, or only a Unix socket at <paramref name="unixPath"/>.</summary>
    public static HubOptions HubOptions(BenchTransport transport, string unixPath) => transport switch
    {
        BenchTransport.Tcp => new HubOptions { Tcp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) } },
        BenchTransport.Unix => new HubOptions { Tcp = null, Unix = new() { Path = unixPath } },
        BenchTransport.Udp => new HubOptions { Tcp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) }, Udp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) } },
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };

    /// <summary>Where the bench's viewers connect once the hub has started.</summary>
    public static StreamEndpoint Endpoint(BenchTransport transport, HubServer hub) => transport switch
    {
        BenchTransport.Tcp => new StreamEndpoint("tcp", "127.0.0.1", hub.TcpEndPoint.Port),
        BenchTransport.Unix => StreamEndpoint.Unix(hub.UnixSocketPath!),
        BenchTransport.Udp => new StreamEndpoint("udp", "127.0.0.1", hub.UdpEndPoint!.Port),
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };

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
