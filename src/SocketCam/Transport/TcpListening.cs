using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace SocketCam.Transport;

/// <summary>The listening side every TCP server here shares (the hub, the seed-format listener).</summary>
internal static class TcpListening
{
    /// <summary>Binds and listens (throws <see cref="SocketException"/> when the address is taken); IPv6 any also takes IPv4.</summary>
    public static Socket Listen(IPEndPoint endPoint, int backlog)
    {
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                listener.DualMode = true;
            }

            listener.Bind(endPoint);
            listener.Listen(backlog);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Accepted connections until cancelled or the listener is disposed. A client that reset before accept completed is
    /// skipped; other accept errors (out of file descriptors...) back off briefly instead of spinning.
    /// </summary>
    public static async IAsyncEnumerable<Socket> AcceptAllAsync(this Socket listener, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || (ex is SocketException && cancellationToken.IsCancellationRequested))
            {
                yield break;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                continue;
            }
            catch (SocketException)
            {
                if (!await BackOffAsync(cancellationToken))
                {
                    yield break;
                }

                continue;
            }

            yield return client;
        }
    }

    private static async Task<bool> BackOffAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(100, cancellationToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
