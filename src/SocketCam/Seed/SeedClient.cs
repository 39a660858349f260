using System.Net;
using System.Net.Sockets;
using SocketCam.Transport;

namespace SocketCam.Seed;

/// <summary>Connecting to a seed tutorial server (`seed+tcp://HOST:PORT`): plain TCP, no handshake.</summary>
internal static class SeedClient
{
    public const string Scheme = "seed+tcp";

    public static bool IsSeed(StreamEndpoint endpoint) => string.Equals(endpoint.Scheme, Scheme, StringComparison.Ordinal);

    /// <summary>Connects within <paramref name="timeout"/>; the caller owns the socket.</summary>
    public static async Task<Socket> ConnectAsync(StreamEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        Socket? socket = null;
        try
        {
            IPEndPoint address = await endpoint.ResolveAsync(limit.Token);
            socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            // Bounded before connecting, so the window is negotiated with it: a viewer slower than the server makes
            // TCP push back on it (the tutorial server blocks in sendall) instead of queueing seconds of frames here.
            socket.ConfigureForVideo(boundBuffers: true);
            await socket.ConnectAsync(address, limit.Token);
            return socket;
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket?.Dispose();
            throw new TimeoutException($"{endpoint} did not answer (name lookup and connection) within {timeout.TotalSeconds:0.#} s.");
        }
        catch
        {
            socket?.Dispose();
            throw;
        }
    }
}
