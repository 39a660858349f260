using System.Net;
using System.Net.Sockets;

namespace SocketCam.Tests.Support;

/// <summary>Ports for tests that must restart a process on the same address (port 0 would pick another one each time).</summary>
internal static class FreePorts
{
    /// <summary>A TCP port nothing listens on right now (the kernel's pick for port 0 on loopback, released at once).</summary>
    public static int Tcp() => Probe(SocketType.Stream, ProtocolType.Tcp);

    /// <summary>A UDP port nothing is bound to right now.</summary>
    public static int Udp() => Probe(SocketType.Dgram, ProtocolType.Udp);

    /// <summary>A port free for TCP and UDP both (a hub's default: `serve --listen` takes the same port over UDP).</summary>
    public static int TcpAndUdp()
    {
        for (int attempt = 0; ; attempt++)
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
            }
        }
    }

    private static int Probe(SocketType type, ProtocolType protocol)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, type, protocol);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
