using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;
using SocketCam.Seed;
using SocketCam.Tests.Support;
using Xunit;

namespace SocketCam.Tests.Seed;

/// <summary>
/// The seed listener and reader at engine level, over real loopback sockets: timers that must only run while bytes are
/// on their way, and an allow-list that must bound its work whatever a pickle repeats.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class SeedEngineTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_seed_client_stays_connected_across_a_gap_longer_than_the_send_timeout()
    {
        await using TestHub hub = TestHub.Start(captureRoom: null);
        var options = new SeedOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), SendTimeout = TimeSpan.FromMilliseconds(200) };
        await using var seed = new SeedServer(hub.Server, options);
        seed.Start();
        Room room = hub.Server.GetOrCreateRoom(RoomName.Default);
        try
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(seed.EndPoint);
            await Eventually.UntilAsync(() => room.ViewerCount == 1, "the seed client joins the room", Timeout);

            PublishRaw(room, sequence: 1, fill: 10);
            Assert.Equal(10, (await ReadFrameAsync(client)).Pixel);

            // Idle for several send timeouts (the source is down, say): that is not a stalled client.
            await Task.Delay(options.SendTimeout * 5);
            PublishRaw(room, sequence: 2, fill: 20);
            Assert.Equal(20, (await ReadFrameAsync(client)).Pixel);
            Assert.Equal(1, room.ViewerCount);
        }
        finally
        {
            hub.Server.LeaveRoom(room);
        }
    }

    [Fact]
    public async Task The_readers_idle_timeout_counts_only_time_spent_waiting_for_the_server()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using Socket server = await listener.AcceptAsync();

        byte[] frame = SeedMessage(4, 2, fill: 7);
        await server.SendAsync(frame);
        await server.SendAsync(frame);

        TimeSpan idle = TimeSpan.FromMilliseconds(200);
        using var reader = new SeedStreamReader(client, 1 << 20, idle);
        Assert.True(await reader.ReadAsync(CancellationToken.None));
        Assert.Equal(4, reader.Decode().Width);

        // The caller is busy for several idle timeouts (a paused capture, a recorder holding the loop); the second
        // frame has been waiting in the socket all along.
        await Task.Delay(idle * 5);
        Assert.True(await reader.ReadAsync(CancellationToken.None));
        Assert.Equal(2, reader.Decode().Height);

        // With nothing more coming, the timeout does fire.
        await Assert.ThrowsAsync<TimeoutException>(async () => await reader.ReadAsync(CancellationToken.None));
    }

    [Fact]
    public void A_pickle_that_decodes_one_memoized_text_again_and_again_is_rejected_without_growing()
    {
        // Protocol 2 spells bytes as _codecs.encode(text, 'latin1'). Memoize the callable and the arguments once, then
        // call it over and over with BINGET: each call would copy the text again.
        var p = new List<byte> { 0x80, 2 };
        p.AddRange("c_codecs\nencode\n"u8.ToArray());
        p.AddRange([(byte)'q', 0]);                               // memo 0 = _codecs.encode
        byte[] text = new byte[4096];
        Array.Fill(text, (byte)'a');
        p.Add((byte)'X');
        p.AddRange(BitConverter.GetBytes(text.Length));
        p.AddRange(text);
        p.Add(0x8c);
        p.Add(6);
        p.AddRange("latin1"u8.ToArray());
        p.Add(0x86);                                              // TUPLE2
        p.AddRange([(byte)'q', 1]);                               // memo 1 = (text, 'latin1')
        p.Add((byte)'R');                                         // encode(text) #1 (consumes the originals)
        for (int i = 0; i < 40; i++)
        {
            p.AddRange([(byte)'h', 0, (byte)'h', 1, (byte)'R']);  // encode(text) again, and again
        }

        p.Add((byte)'.');
        byte[]? scratch = null;
        try
        {
            var ex = Assert.Throws<SeedFormatException>(() => NumpyPickle.Read(p.ToArray(), ref scratch, maxPixelBytes: 1 << 20));
            Assert.Contains("more than twice", ex.Message, StringComparison.Ordinal);
            Assert.True(scratch is null || scratch.Length <= 3 * 4096, $"scratch grew to {scratch?.Length} bytes");
        }
        finally
        {
            if (scratch is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

    [Fact]
    public void A_protocol_2_text_larger_than_an_image_may_be_is_rejected_before_it_is_copied()
    {
        byte[] text = new byte[5000];
        Array.Fill(text, (byte)'z');
        var p = new List<byte> { 0x80, 2 };
        p.AddRange("c_codecs\nencode\n"u8.ToArray());
        p.Add((byte)'X');
        p.AddRange(BitConverter.GetBytes(text.Length));
        p.AddRange(text);
        p.Add(0x8c);
        p.Add(6);
        p.AddRange("latin1"u8.ToArray());
        p.Add(0x86);
        p.Add((byte)'R');
        p.Add((byte)'.');
        byte[]? scratch = null;
        var ex = Assert.Throws<SeedFormatException>(() => NumpyPickle.Read(p.ToArray(), ref scratch, maxPixelBytes: 1000));
        Assert.Contains("larger than an image may be", ex.Message, StringComparison.Ordinal);
        Assert.Null(scratch);
    }

    [Fact]
    public async Task Unpaced_capture_waits_while_every_viewer_has_a_frame_pending_and_goes_on_when_one_is_taken()
    {
        using var room = new Room("wait");
        var viewer = new SlotViewer();
        room.AddViewer(viewer);
        MediaFrame frame = MediaFrame.Rent(16);
        frame.Complete(new VideoFrameHeader(CodecId.Jpeg, 4, 4, 1, 0), 0);
        room.Publish(frame);
        frame.Release();

        Task waiting = room.WaitUntilTakenAsync(TimeSpan.FromMilliseconds(20), CancellationToken.None).AsTask();
        await Task.Delay(200); // well past the limit: the only viewer still has its frame, so a new one would be wasted
        Assert.False(waiting.IsCompleted, "capture went on although no viewer could use another frame");

        // Any taker (here not a network sender, which used to be the only kind that said so) lets capture go on.
        viewer.Slot.Take()?.Release();
        await waiting.WaitAsync(Timeout);
        room.RemoveViewer(viewer);
    }

    private static void PublishRaw(Room room, long sequence, byte fill)
    {
        const int width = 4;
        const int height = 2;
        MediaFrame frame = MediaFrame.Rent(width * height * 3);
        frame.WritableData[..(width * height * 3)].Fill(fill);
        frame.Complete(new VideoFrameHeader(CodecId.RawBgr24, width, height, sequence, 0), width * height * 3);
        room.Publish(frame);
        frame.Release();
    }

    private static async Task<(int Width, byte Pixel)> ReadFrameAsync(Socket client)
    {
        using var cts = new CancellationTokenSource(Timeout);
        byte[] prefix = new byte[8];
        await ReceiveExactlyAsync(client, prefix, cts.Token);
        byte[] pickle = new byte[(int)BinaryPrimitives.ReadUInt64LittleEndian(prefix)];
        await ReceiveExactlyAsync(client, pickle, cts.Token);
        byte[]? scratch = null;
        NumpyImage image = NumpyPickle.Read(pickle, ref scratch);
        return (image.Width, image.Pixels[0]);
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            Assert.True(n > 0, "the seed listener closed the connection");
            buffer = buffer[n..];
        }
    }

    private static byte[] SeedMessage(int width, int height, byte fill)
    {
        byte[] pixels = new byte[width * height * 3];
        Array.Fill(pixels, fill);
        int length = NumpyPickle.PickledLength(height, width, 3);
        byte[] message = new byte[8 + length];
        BinaryPrimitives.WriteUInt64LittleEndian(message, (ulong)length);
        NumpyPickle.Write(message.AsSpan(8), pixels, height, width, 3);
        return message;
    }

    /// <summary>A viewer that is only its slot: the test takes frames out by hand.</summary>
    private sealed class SlotViewer : IRoomViewer
    {
        public VideoSlot Slot { get; } = new(new AsyncSignal());

        public void OnSignal(SignalMessage message)
        {
        }
    }
}
