using System.Net;
using System.Net.Sockets;

namespace SocketCam.Udp;

/// <summary>Creating and sizing the UDP sockets of live video.</summary>
internal static class UdpSockets
{
    /// <summary>
    /// Kernel buffers: a 720p JPEG frame is ~100 datagrams and the pacer sends bursts of a few ms, so a receiver that is
    /// busy decoding for a moment must be able to hold several frames. Linux caps SO_RCVBUF at net.core.rmem_max
    /// (208 KB by default); a privileged process may exceed it with SO_RCVBUFFORCE, so that is tried first.
    /// </summary>
    public const int BufferBytes = 4 * 1024 * 1024;

    private const int SolSocket = 1;
    private const int SoSndBufForce = 32;
    private const int SoRcvBufForce = 33;

    public static Socket Create(AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (family == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = true;
            }

            SizeBuffers(socket);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static void SizeBuffers(Socket socket)
    {
        if (!TryForce(socket, SoRcvBufForce))
        {
            socket.ReceiveBufferSize = BufferBytes;
        }

        if (!TryForce(socket, SoSndBufForce))
        {
            socket.SendBufferSize = BufferBytes;
        }
    }

    /// <summary>True for send errors that only mean this datagram was not sent (a firewall drop, a full queue, no route yet).</summary>
    public static bool IsTransientSendError(SocketException ex) => ex.SocketErrorCode is SocketError.NoBufferSpaceAvailable
        or SocketError.AccessDenied or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.MessageSize
        or SocketError.WouldBlock or SocketError.ConnectionRefused or SocketError.ConnectionReset or SocketError.NetworkDown
        || ex.ErrorCode == 1; // EPERM: an nftables/iptables drop in the output chain

    public static IPEndPoint Any(AddressFamily family) => new(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);

    private static bool TryForce(Socket socket, int option)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            socket.SetRawSocketOption(SolSocket, option, BitConverter.GetBytes(BufferBytes / 2)); // the kernel doubles it
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
