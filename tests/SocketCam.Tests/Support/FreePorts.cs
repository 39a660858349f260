using System.Net;
using System.Net.Sockets;

namespace SocketCam.Tests.Support;

/// <summary>Ports for tests that must restart a process on the same address (port 0 would pick another one each time).</summary>
internal static class FreePorts
{
    /// <summary>A TCP port nothing listens on right now (the kernel's pick for port 0 on loopback, released at once).</summary>
    public static int Tcp()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
