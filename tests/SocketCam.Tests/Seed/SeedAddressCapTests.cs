using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using SocketCam.Media;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Limits;
using SocketCam.Seed;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Seed;

/// <summary>
/// Issue 13, finding 6 on the seed listener: 300 seed clients from one address that never read took all 256 slots. With
/// the per-address cap, one address gets its 64 and no more, and a client from another address still watches.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class SeedAddressCapTests
{
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task Seed_clients_from_one_address_that_never_read_get_64_slots_and_another_address_still_watches()
    {
        const int Crowd = 100;
        await using TestHub hub = TestHub.Start(codec: SocketCam.Media.CodecId.RawBgr24, width: 160, height: 120);
        var options = new SeedOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) };
        await using var seed = new SeedServer(hub.Server, options, hub.Logs.CreateFactory());
        seed.Start();
        int cap = hub.Server.Guards.Options.MaxConnectionsPerAddress;
        Assert.Equal(64, cap);
        Assert.True(options.MaxConnections > cap + 1, "the listener's own limit would refuse first");

        var crowd = new List<Socket>();
        try
        {
            // A crowd that never reads, each with a small receive buffer, all from 127.0.0.2.
            for (int i = 0; i < Crowd; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                socket.Bind(new IPEndPoint(Attacker, 0));
                crowd.Add(socket);
                await socket.ConnectAsync(seed.EndPoint).WaitAsync(TestHub.Timeout);
            }

            await Eventually.UntilAsync(() => hub.Server.Guards.Refusals[Refusal.AddressLimit] == Crowd - cap, $"{Crowd - cap} of the crowd are refused (now {hub.Server.Guards.Refusals[Refusal.AddressLimit]})");
            Assert.Equal(cap, seed.ClientCount);

            // The refused ones were closed: their first read ends (EOF or reset) instead of waiting for a frame.
            int closed = 0;
            foreach (Socket socket in crowd)
            {
                if (await IsClosedAsync(socket))
                {
                    closed++;
                }
            }

            Assert.Equal(Crowd - cap, closed);

            // A client from 127.0.0.1 gets in and receives whole frames.
            using var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await other.ConnectAsync(seed.EndPoint).WaitAsync(TestHub.Timeout);
            for (int frame = 0; frame < 3; frame++)
            {
                byte[] length = new byte[8];
                await ReceiveExactlyAsync(other, length);
                long size = BinaryPrimitives.ReadInt64LittleEndian(length);
                Assert.InRange(size, 160 * 120 * 3, 160 * 120 * 3 + 1024);
                await ReceiveExactlyAsync(other, new byte[size]);
            }

            LogEntry line = await hub.Logs.WaitForAsync(e => e.EventId.Id == 608, TestHub.Timeout, "the refusal's log line (event 608)");
            Assert.Contains("64 seed connections from 127.0.0.2 is the limit per address", line.Message, StringComparison.Ordinal);
        }
        finally
        {
            foreach (Socket socket in crowd)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>True when the server closed the socket: a read ends at once; a served (never reading) client has frame bytes waiting instead.</summary>
    private static async Task<bool> IsClosedAsync(Socket socket)
    {
        byte[] one = new byte[1];
        try
        {
            int read = await socket.ReceiveAsync(one.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TestHub.Timeout);
            return read == 0;
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return true;
        }
    }

    private static async Task ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        for (int offset = 0; offset < buffer.Length;)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(offset), SocketFlags.None).AsTask().WaitAsync(TestHub.Timeout);
            Assert.True(read > 0, "the seed listener closed the connection of a client from another address");
            offset += read;
        }
    }
}
