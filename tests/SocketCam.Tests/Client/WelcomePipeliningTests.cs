using System.Buffers;
using System.Net;
using System.Net.Sockets;
using SocketCam.Client;
using SocketCam.Protocol;
using SocketCam.Tests.Support;
using SocketCam.Transport;

namespace SocketCam.Tests.Client;

/// <summary>
/// A message the server sends in the same segment as WELCOME must be handled at once, not when more bytes happen to
/// arrive (issue 13, finding 8, on the client side): a PING that came with WELCOME gets its PONG.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class WelcomePipeliningTests
{
    [Fact]
    public async Task A_ping_that_comes_with_welcome_is_answered()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var endpoint = new StreamEndpoint("tcp", "127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port);
        Task<PongMessage> server = ServerAsync(listener);

        // No ping loop and a long idle timeout: nothing else would make the client read again.
        var options = new ClientOptions { Reconnect = false, IdleTimeout = TimeSpan.FromMinutes(2) };
        using var cancel = new CancellationTokenSource(TestHub.Timeout);
        await using ClientSession session = await ClientSession.ConnectAsync(endpoint, PeerRole.Publisher, options, cancel.Token);
        Task receiving = session.ReceiveAsync(options.MaxFrameBytes, options.IdleTimeout, null, null, null, cancel.Token);

        PongMessage pong = await server.WaitAsync(TestHub.Timeout);
        Assert.Equal(99u, pong.Id);
        Assert.Equal(4321, pong.EchoSentMicros);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => receiving);
    }

    /// <summary>Reads the client's HELLO, sends preface + WELCOME + PING in one write, and returns the PONG it gets.</summary>
    private static async Task<PongMessage> ServerAsync(Socket listener)
    {
        using Socket client = await listener.AcceptAsync().WaitAsync(TestHub.Timeout);
        byte[] buffer = new byte[64 * 1024];
        byte[] pending = [];
        bool prefaceRead = false;
        bool welcomed = false;
        while (true)
        {
            int read = await client.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TestHub.Timeout);
            Assert.True(read > 0, welcomed ? "The client hung up instead of answering the PING." : "The client hung up before its HELLO.");
            pending = [.. pending, .. buffer.AsSpan(0, read)];
            var sequence = new ReadOnlySequence<byte>(pending);
            prefaceRead = prefaceRead || MessageParser.TryReadPreface(ref sequence);
            while (prefaceRead && MessageParser.TryReadMessage(ref sequence, 0, out MessageType type, out ReadOnlySequence<byte> payload))
            {
                if (type == MessageType.Hello)
                {
                    byte[] answer = new byte[MessageWriter.MaxControlMessageSize * 3];
                    int length = MessageWriter.WritePreface(answer);
                    length += MessageWriter.WriteWelcome(answer.AsSpan(length), new WelcomeMessage(1, 0, 1024 * 1024));
                    length += MessageWriter.WritePing(answer.AsSpan(length), new PingMessage(99, 4321));
                    await client.SendAsync(answer.AsMemory(0, length), SocketFlags.None);
                    welcomed = true;
                }
                else if (type == MessageType.Pong)
                {
                    return MessageParser.ParsePong(payload);
                }
            }

            pending = prefaceRead ? sequence.ToArray() : pending;
        }
    }
}
