using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace SocketCam.Transport;

internal static class SocketExtensions
{
    /// <summary>Sends every byte (a stream socket may accept fewer than asked). Pooled: no allocation per frame.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask SendAllAsync(this Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken);
            if (sent <= 0)
            {
                throw new IOException("The connection closed while sending.");
            }

            data = data[sent..];
        }
    }

    /// <summary>
    /// A lingering close, after a farewell (ERROR/GOODBYE): FIN first, then what the peer still sends is read and
    /// discarded (at most <paramref name="maxBytes"/>, for at most <paramref name="limit"/>) until it closes too. Closing
    /// with unread input would send a reset instead, which can destroy the farewell in the peer's receive buffer before
    /// it is read (Kestrel and nginx linger for the same reason).
    /// </summary>
    public static async Task LingerAsync(this Socket socket, TimeSpan limit, int maxBytes)
    {
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            using var timeout = new CancellationTokenSource(limit);
            for (int total = 0; total < maxBytes;)
            {
                int read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    return;
                }

                total += read;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException || ex.IsDisconnect())
        {
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>True for the errors that just mean "the peer went away" (logged as a normal close, not a failure).</summary>
    public static bool IsDisconnect(this Exception exception) => exception switch
    {
        SocketException se => se.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted
            or SocketError.Shutdown or SocketError.OperationAborted or SocketError.Interrupted or SocketError.Disconnecting
            or SocketError.NotConnected or SocketError.TimedOut or SocketError.HostUnreachable or SocketError.NetworkUnreachable
            or SocketError.NetworkDown or SocketError.NetworkReset or SocketError.HostDown,
        IOException { InnerException: { } inner } => inner.IsDisconnect(),
        IOException => true,
        ObjectDisposedException => true,
        _ => false,
    };

    /// <summary>
    /// Kernel buffer for live video in each direction. Linux auto-tunes TCP buffers up to several MB, which for a
    /// viewer slower than the stream is a hidden queue of dozens of frames (seconds of latency) in front of the
    /// hub's latest-frame slot. A fixed buffer keeps that queue to a few frames so the slot does the skipping.
    /// </summary>
    public const int LiveVideoBufferBytes = 256 * 1024;

    /// <summary>
    /// No Nagle delay (TCP only: a Unix socket has no Nagle), and bounded kernel buffers on the paths that carry live
    /// video (on a Unix stream socket the send buffer alone bounds what is in flight; the receive size is harmless).
    /// </summary>
    public static void ConfigureForVideo(this Socket socket, bool boundBuffers = false)
    {
        if (socket.ProtocolType == ProtocolType.Tcp && socket.AddressFamily != AddressFamily.Unix)
        {
            socket.NoDelay = true;
        }

        if (boundBuffers)
        {
            socket.SendBufferSize = LiveVideoBufferBytes;
            socket.ReceiveBufferSize = LiveVideoBufferBytes;
        }
    }

    public static string Describe(this Socket socket)
    {
        try
        {
            if (socket.AddressFamily == AddressFamily.Unix)
            {
                return DescribeUnix(socket);
            }

            return socket.RemoteEndPoint?.ToString() ?? "?";
        }
        catch (ObjectDisposedException)
        {
            return "?";
        }
    }

    /// <summary>
    /// A Unix socket's client has no address (it never binds a path), so it is named by the socket file and, on Linux,
    /// the client's process id (SO_PEERCRED), which tells two clients apart in the hub's log.
    /// </summary>
    private static string DescribeUnix(Socket socket)
    {
        string path = (socket.LocalEndPoint as UnixDomainSocketEndPoint)?.ToString() is { Length: > 0 } local ? local : "?";
        if (OperatingSystem.IsLinux())
        {
            // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
            Span<byte> credentials = stackalloc byte[12];
            try
            {
                if (socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials) >= 4)
                {
                    return $"unix:{path} (pid {BitConverter.ToInt32(credentials)})";
                }
            }
            catch (SocketException)
            {
                // Only a nicety for the log.
            }
        }

        return $"unix:{path}";
    }

    private const int SolSocket = 1; // SOL_SOCKET on Linux
    private const int SoPeerCred = 17; // SO_PEERCRED on Linux
}
