using System.Buffers;
using System.Net;
using System.Net.Sockets;
using SocketCam.Client;
using SocketCam.Protocol;
using SocketCam.Tests.Support;
using SocketCam.Transport;

namespace SocketCam.Tests.Client;

/// <summary>A server that completes the handshake and then falls silent is given up on (and retried), not waited for forever.</summary>
[Collection(NetworkCollection.Name)]
public sealed class IdleTimeoutTests
{
    [Fact]
    public async Task A_viewer_of_a_silent_server_gives_up_with_a_timeout()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var endpoint = new StreamEndpoint("tcp", "127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port);
        Task server = SilentServerAsync(listener);

        var options = new ViewerOptions { Reconnect = false, IdleTimeout = TimeSpan.FromMilliseconds(300), PingInterval = TimeSpan.FromHours(1) };
        using var viewer = new ViewerClient(endpoint, options);
        using var cancel = new CancellationTokenSource(TestHub.Timeout);
        TimeoutException ex = await Assert.ThrowsAsync<TimeoutException>(() => viewer.RunAsync(cancel.Token));
        Assert.StartsWith("No data from the server for", ex.Message, StringComparison.Ordinal);
        Assert.False(cancel.IsCancellationRequested, "the viewer only stopped because the test's own timeout cancelled it");
        await server.WaitAsync(TestHub.Timeout);
    }

    /// <summary>Accepts one client, answers its HELLO with WELCOME, then sends nothing until the client hangs up.</summary>
    private static async Task SilentServerAsync(Socket listener)
    {
        using Socket client = await listener.AcceptAsync().WaitAsync(TestHub.Timeout);
        byte[] buffer = new byte[64 * 1024];
        byte[] pending = [];
        bool prefaceRead = false;
        while (true)
        {
            int read = await client.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TestHub.Timeout);
            Assert.True(read > 0, "The client hung up before its HELLO.");
            pending = [.. pending, .. buffer.AsSpan(0, read)];
            var sequence = new ReadOnlySequence<byte>(pending);
            prefaceRead = prefaceRead || MessageParser.TryReadPreface(ref sequence);
            if (prefaceRead && MessageParser.TryReadMessage(ref sequence, 0, out MessageType type, out _))
            {
                Assert.Equal(MessageType.Hello, type);
                break;
            }

            if (prefaceRead)
            {
                pending = sequence.ToArray();
            }
        }

        byte[] answer = new byte[MessageWriter.MaxControlMessageSize * 2];
        int length = MessageWriter.WritePreface(answer);
        length += MessageWriter.WriteWelcome(answer.AsSpan(length), new WelcomeMessage(1, 0, 1024 * 1024));
        await client.SendAsync(answer.AsMemory(0, length), SocketFlags.None);

        // Silent from here on; drain until the client closes.
        while (await client.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TestHub.Timeout) > 0)
        {
        }
    }
}
