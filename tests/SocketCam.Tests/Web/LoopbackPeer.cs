using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace SocketCam.Tests.Web;

/// <summary>
/// Clients from a chosen loopback address (all of 127.0.0.0/8 is loopback on Linux): the hostile peer connects from
/// 127.0.0.2, the legitimate client from 127.0.0.1, so per-address limits can be seen to separate them.
/// </summary>
internal static class LoopbackPeer
{
    public static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");

    /// <summary>A TCP socket bound to <paramref name="from"/> and connected to 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<Socket> ConnectAsync(IPAddress from, int port, int receiveBufferSize = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (receiveBufferSize > 0)
            {
                socket.ReceiveBufferSize = receiveBufferSize;
            }

            socket.Bind(new IPEndPoint(from, 0));
            await socket.ConnectAsync(IPAddress.Loopback, port);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>An HTTP handler whose every connection comes from <paramref name="from"/> (for HttpClient and ClientWebSocket).</summary>
    public static SocketsHttpHandler Handler(IPAddress from) => new()
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(from, 0));
                await socket.ConnectAsync(IPAddress.Parse(context.DnsEndPoint.Host), context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    /// <summary>A WebSocket from <paramref name="from"/> (the upgrade succeeds even when the server then refuses with a close code).</summary>
    public static async Task<ClientWebSocket> WebSocketAsync(HttpMessageInvoker invoker, Uri uri)
    {
        var socket = new ClientWebSocket();
        using CancellationTokenSource timeout = new(Support.TestHub.Timeout);
        await socket.ConnectAsync(uri, invoker, timeout.Token);
        return socket;
    }

    /// <summary>
    /// Sends a raw HTTP/1.1 request on a fresh socket from <paramref name="from"/> and reads the response until the server
    /// closes or <paramref name="enough"/> says the text so far is enough; returns it as ASCII (headers and body).
    /// </summary>
    public static async Task<string> RawRequestAsync(IPAddress from, int port, string request, Func<string, bool>? enough = null)
    {
        using Socket socket = await ConnectAsync(from, port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None);
        using CancellationTokenSource timeout = new(Support.TestHub.Timeout);
        var text = new StringBuilder();
        byte[] buffer = new byte[8192];
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                return text.ToString();
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            if (enough?.Invoke(text.ToString()) == true)
            {
                return text.ToString();
            }
        }
    }

    /// <summary>A WebSocket upgrade request for <paramref name="path"/>, with an Origin header when given.</summary>
    public static string UpgradeRequest(int port, string path, string? origin) =>
        $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + (origin is null ? "" : $"Origin: {origin}\r\n") + "\r\n";
}
