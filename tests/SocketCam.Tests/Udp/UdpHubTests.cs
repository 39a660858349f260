using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using SocketCam.Sources;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;
using SocketCam.Tests.Support;
using SocketCam.Udp;

namespace SocketCam.Tests.Udp;

/// <summary>
/// UDP live video against a real hub on 127.0.0.1 (docs/PROTOCOL.md §2.0): real viewers and publishers, and raw datagrams
/// for the handshake rules, spoofing and bad input. (Real packet loss is in the lossy-network tests.)
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class UdpHubTests
{
    private static readonly HubOptions WithUdp = new() { Udp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) } };

    [Fact]
    public async Task A_viewer_over_UDP_gets_whole_frames_and_reports_its_link()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp, width: 640, height: 480);
        var jpegs = new System.Collections.Concurrent.ConcurrentQueue<byte[]>();
        await using TestViewer viewer = TestViewer.Start(hub.UdpEndpoint, onReceived: (_, data) => jpegs.Enqueue(System.Buffers.BuffersExtensions.ToArray(data)));
        await viewer.WaitForFramesAsync(30);
        Assert.All(jpegs, j => Assert.True(JpegStructure.TryValidate(j, out int w, out int h, out string? e) && (w, h) == (640, 480), e));
        Assert.Equal(0, viewer.Stats.Corrupt);
        await Eventually.UntilAsync(() => viewer.Stats.Link is { FramesCompleted: >= 30 }, "the viewer's link stats count the frames");
        Assert.Equal(0, viewer.Stats.Link!.FramesLost);
        Assert.Contains(hub.Logs.Entries, e => e.Message.Contains("joined room 'main' as viewer", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_publisher_over_UDP_reaches_a_TCP_viewer_and_a_UDP_viewer()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp, captureRoom: null);
        await using var source = new SocketCam.Sources.TestPatternSource(new SocketCam.Sources.TestPatternOptions { Width = 320, Height = 240, Fps = 30 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        var publisher = new SocketCam.Client.PublisherClient(hub.UdpEndpoint, new SocketCam.Client.ClientOptions { Room = "cam" }, source, encoder);
        using var stop = new CancellationTokenSource();
        Task publishing = publisher.RunAsync(stop.Token);
        try
        {
            await using TestViewer tcp = TestViewer.Start(hub.Endpoint, room: "cam");
            await using TestViewer udp = TestViewer.Start(hub.UdpEndpoint, room: "cam");
            await tcp.WaitForFramesAsync(20);
            await udp.WaitForFramesAsync(20);
            Assert.Equal((320, 240), (udp.Stats.Width, udp.Stats.Height));
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await publishing;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    [Fact]
    public async Task A_HELLO_gets_one_WELCOME_no_larger_and_nothing_else_until_the_address_is_proved()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp);
        using var raw = new RawUdp(hub);
        ulong nonce = 42;
        int helloLength = raw.SendHello(nonce, PeerRole.Viewer);
        byte[] welcome = await raw.ReceiveAsync();
        Assert.True(welcome.Length <= helloLength, "the answer to a HELLO is never larger than the HELLO");
        Assert.True(UdpWire.TryReadWelcome(welcome, out UdpWelcome w));
        Assert.Equal(nonce, w.Nonce);
        Assert.True(UdpWire.TryReadPrefix(welcome, out _, out ulong sessionId));

        // Without proof of address (a datagram with the new id), no frame is ever sent: a spoofed HELLO amplifies nothing.
        Assert.Null(await raw.TryReceiveAsync(TimeSpan.FromMilliseconds(700)));

        // A repeated HELLO (as if the WELCOME was lost) gets the same WELCOME, and still nothing else.
        raw.SendHello(nonce, PeerRole.Viewer);
        Assert.Equal(welcome, await raw.ReceiveAsync());

        raw.SendPing(sessionId);
        byte[] next = await raw.ReceiveAsync();
        Assert.True(UdpWire.TryReadPrefix(next, out _, out ulong id));
        Assert.Equal(sessionId, id);
        byte[]? fragment = null;
        for (int i = 0; i < 200 && fragment is null; i++)
        {
            byte[] d = await raw.ReceiveAsync();
            if (UdpWire.TryReadPrefix(d, out DatagramType type, out _) && type == DatagramType.Fragment)
            {
                fragment = d;
            }
        }

        Assert.NotNull(fragment);
        Assert.True(fragment.Length <= UdpWire.MaxDatagram);
    }

    [Fact]
    public async Task Spoofed_and_malformed_datagrams_are_dropped_and_counted_and_the_session_goes_on()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp);
        UdpHubListener listener = hub.Server.Udp!;
        await using TestViewer viewer = TestViewer.Start(hub.UdpEndpoint);
        await viewer.WaitForFramesAsync(5);
        ulong realSession = listener.Sessions.Single().Id;

        using var stranger = new RawUdp(hub);
        // The real session's id from another address (a spoofer who learned it): unknown address.
        stranger.Send(Nack(realSession, frameId: 1, 0, 1, 2));
        // Junk, a truncated HELLO, an oversized datagram, a wrong magic.
        stranger.Send(RandomNumberGenerator.GetBytes(100));
        byte[] hello = new byte[UdpWire.MaxDatagram];
        int helloLength = UdpWire.WriteHello(hello, 0, new UdpHello(7, 0, PeerRole.Viewer, "main", null, "x"));
        stranger.Send(hello.AsSpan(0, helloLength - 1).ToArray());
        stranger.Send(new byte[1500]);

        // From an address that has a session, with a wrong id.
        stranger.SendHello(9, PeerRole.Viewer);
        byte[] welcome = await stranger.ReceiveAsync();
        UdpWire.TryReadPrefix(welcome, out _, out ulong strangerSession);
        stranger.SendPing(strangerSession);
        await Eventually.UntilAsync(() => listener.Sessions.Count() == 2, "the stranger's own session is active");
        stranger.Send(Nack(strangerSession ^ 1, frameId: 1, 0));
        // A viewer sending FRAGMENTs (publishers only).
        byte[] fragment = new byte[UdpWire.MaxDatagram];
        stranger.Send(fragment.AsSpan(0, UdpWire.WriteFragment(fragment, strangerSession, new FragmentHeader(1, 0, 1, 0, CodecId.Jpeg, 16, 16, 4, 4, 1, 0), [1, 2, 3, 4])).ToArray());

        await Eventually.UntilAsync(
            () => listener.Drops is { UnknownAddress: >= 1, Malformed: >= 2, Oversized: >= 1, WrongSession: >= 1, NotAllowed: >= 1 },
            $"every bad datagram is counted (malformed {listener.Drops.Malformed}, oversized {listener.Drops.Oversized}, unknown {listener.Drops.UnknownAddress}, wrong id {listener.Drops.WrongSession}, not allowed {listener.Drops.NotAllowed})");
        long before = viewer.Decoded;
        await viewer.WaitForFramesAsync(before + 20);
        Assert.Equal(0, viewer.Stats.Corrupt);
    }

    [Fact]
    public async Task A_wrong_token_is_refused_with_a_REFUSE_no_larger_than_the_HELLO()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp with { Sessions = new() { Token = "s3cret" } });
        using var raw = new RawUdp(hub);
        int helloLength = raw.SendHello(5, PeerRole.Viewer, token: "wrong");
        byte[] answer = await raw.ReceiveAsync();
        Assert.True(answer.Length <= helloLength);
        Assert.True(UdpWire.TryReadRefuse(answer, out UdpRefuse refuse));
        Assert.Equal(ErrorCode.Unauthorized, refuse.Code);

        var options = new SocketCam.Client.ViewerOptions { Token = "wrong", Reconnect = false };
        using var client = new SocketCam.Client.ViewerClient(hub.UdpEndpoint, options);
        var error = await Assert.ThrowsAsync<RemoteErrorException>(() => client.RunAsync(CancellationToken.None));
        Assert.Equal(ErrorCode.Unauthorized, error.Code);

        await using TestViewer good = TestViewer.Start(hub.UdpEndpoint, token: "s3cret");
        await good.WaitForFramesAsync(3);
    }

    [Fact]
    public async Task A_publisher_cannot_inject_bad_frames_or_move_the_window_with_far_future_ids()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp, captureRoom: null);
        using var raw = new RawUdp(hub);
        raw.SendHello(11, PeerRole.Publisher, room: "cam");
        byte[] welcome = await raw.ReceiveAsync();
        UdpWire.TryReadPrefix(welcome, out _, out ulong session);
        raw.SendPing(session);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "cam");

        byte[] jpeg = EncodeJpeg(160, 120);
        uint frameId = 0;
        await Eventually.UntilAsync(
            () =>
            {
                raw.SendFrame(session, frameId++, jpeg, 160, 120);
                return viewer.Decoded >= 3;
            },
            "the raw publisher's frames reach a viewer");

        // A frame id far in the future, and fragment indexes out of range: dropped, counted, the window stays.
        raw.SendFrame(session, frameId + 100_000, jpeg, 160, 120);
        byte[] bad = new byte[UdpWire.MaxDatagram];
        int length = UdpWire.WriteFragment(bad, session, new FragmentHeader(frameId, 9, 1, 0, CodecId.Jpeg, 160, 120, 4, 4, 1, Clock.NowMicros()), [1, 2, 3, 4]);
        raw.Send(bad.AsSpan(0, length).ToArray());
        var publisher = hub.Server.Udp!.Sessions.OfType<UdpPublisherSession>().Single();
        await Eventually.UntilAsync(() => publisher.Reception is { FarFuture: >= 1, Malformed: >= 1 }, "far-future and out-of-range fragments are counted");

        long before = viewer.Decoded;
        await Eventually.UntilAsync(
            () =>
            {
                raw.SendFrame(session, frameId++, jpeg, 160, 120);
                return viewer.Decoded >= before + 3;
            },
            "the session goes on after the bad datagrams");

        // A whole frame that is not a JPEG ends the publisher's session with BYE bad-frame.
        raw.SendFrame(session, frameId++, RandomNumberGenerator.GetBytes(3000), 160, 120);
        byte[]? bye = null;
        for (int i = 0; i < 100 && bye is null; i++)
        {
            byte[] d = await raw.ReceiveAsync();
            if (UdpWire.TryReadBye(d, out _))
            {
                bye = d;
            }
        }

        Assert.NotNull(bye);
        UdpWire.TryReadBye(bye, out CloseMessage close);
        Assert.Equal(ErrorCode.BadFrame, close.Code);
        IReadOnlyList<SignalChange> signals = await viewer.WaitForSignalsAsync(1);
        Assert.False(signals[0].Live);
    }

    [Fact]
    public async Task A_silent_viewer_is_dropped_with_BYE_idle_timeout()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp with { Udp = WithUdp.Udp! with { IdleTimeout = TimeSpan.FromSeconds(1) } });
        using var raw = new RawUdp(hub);
        raw.SendHello(3, PeerRole.Viewer);
        UdpWire.TryReadPrefix(await raw.ReceiveAsync(), out _, out ulong session);
        raw.SendPing(session);
        CloseMessage? bye = null;
        using var timeout = new CancellationTokenSource(TestHub.Timeout);
        while (bye is null)
        {
            byte[] d = await raw.ReceiveAsync(timeout.Token);
            if (UdpWire.TryReadBye(d, out CloseMessage close))
            {
                bye = close;
            }
        }

        Assert.Equal(ErrorCode.IdleTimeout, bye.Value.Code);
        await Eventually.UntilAsync(() => !hub.Server.Udp!.Sessions.Any(), "the session is gone");
    }

    [Fact]
    public async Task A_viewer_whose_server_goes_away_says_so_and_resumes_when_it_is_back()
    {
        TestHub first = TestHub.Start(options: WithUdp);
        int port = first.Server.UdpEndPoint!.Port;
        await using TestViewer viewer = TestViewer.Start(first.UdpEndpoint, reconnect: true);
        try
        {
            await viewer.WaitForFramesAsync(5);
        }
        finally
        {
            await first.DisposeAsync();
        }

        // The old hub said BYE server-shutdown; the viewer keeps trying until a hub answers on that port again.
        await using TestHub second = TestHub.Start(options: WithUdp with { Udp = new() { EndPoint = new IPEndPoint(IPAddress.Loopback, port) } });
        long before = viewer.Decoded;
        await viewer.WaitForFramesAsync(before + 5);
        Assert.True(viewer.Stats.Reconnects >= 1);
    }

    [Fact]
    public async Task The_same_publisher_reconnecting_from_a_new_port_takes_the_seat_over()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp, captureRoom: null);
        using var first = new RawUdp(hub);
        first.SendHello(1, PeerRole.Publisher, room: "cam");
        UdpWire.TryReadPrefix(await first.ReceiveAsync(), out _, out ulong firstSession);
        first.SendPing(firstSession);
        await Eventually.UntilAsync(() => hub.Server.Udp!.Sessions.OfType<UdpPublisherSession>().Any(), "the first publisher is active");

        // Same IP, new port (a client that reconnects opens a new socket): welcomed, not refused as room-busy.
        using var second = new RawUdp(hub);
        second.SendHello(2, PeerRole.Publisher, room: "cam");
        byte[] answer = await second.ReceiveAsync();
        Assert.True(UdpWire.TryReadWelcome(answer, out _), "a WELCOME, not a REFUSE");
        UdpWire.TryReadPrefix(answer, out _, out ulong secondSession);
        second.SendPing(secondSession);

        CloseMessage bye = await first.ReceiveByeAsync();
        Assert.Equal(ErrorCode.Normal, bye.Code);
        Assert.Contains("replaced", bye.Text, StringComparison.Ordinal);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "cam");
        byte[] jpeg = EncodeJpeg(160, 120);
        uint frameId = 0;
        await Eventually.UntilAsync(
            () =>
            {
                second.SendFrame(secondSession, frameId++, jpeg, 160, 120);
                return viewer.Decoded >= 2;
            },
            "the new session publishes");
    }

    [Fact]
    public async Task Stopping_the_hub_says_BYE_server_shutdown_to_every_session()
    {
        TestHub hub = TestHub.Start(options: WithUdp);
        using var raw = new RawUdp(hub);
        try
        {
            raw.SendHello(1, PeerRole.Viewer);
            UdpWire.TryReadPrefix(await raw.ReceiveAsync(), out _, out ulong session);
            raw.SendPing(session);
            await Eventually.UntilAsync(() => hub.Server.Udp!.Sessions.Any(), "the session is active");
        }
        finally
        {
            await hub.DisposeAsync();
        }

        Assert.Equal(ErrorCode.ServerShutdown, (await raw.ReceiveByeAsync()).Code);
    }

    [Fact]
    public async Task One_address_gets_at_most_64_sessions_then_REFUSE_too_many_clients()
    {
        await using TestHub hub = TestHub.Start(options: WithUdp);
        var sockets = new List<RawUdp>();
        try
        {
            for (int i = 0; i < 64; i++)
            {
                var raw = new RawUdp(hub);
                sockets.Add(raw);
                raw.SendHello((ulong)i + 1, PeerRole.Viewer);
                Assert.True(UdpWire.TryReadWelcome(await raw.ReceiveAsync(), out _));
            }

            using var extra = new RawUdp(hub);
            extra.SendHello(1000, PeerRole.Viewer);
            Assert.True(UdpWire.TryReadRefuse(await extra.ReceiveAsync(), out UdpRefuse refuse));
            Assert.Equal(ErrorCode.TooManyClients, refuse.Code);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    private static byte[] Nack(ulong session, uint frameId, params ushort[] indexes)
    {
        byte[] d = new byte[UdpWire.MaxDatagram];
        return d.AsSpan(0, UdpWire.WriteNack(d, session, new UdpNack(frameId, indexes))).ToArray();
    }

    private static byte[] EncodeJpeg(int width, int height)
    {
        using var picture = SocketCam.Media.VideoFrame.Rent(width, height);
        picture.Pixels.Fill(0x80);
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        MediaFrame frame = FrameEncoding.Encode(encoder, picture);
        byte[] jpeg = frame.Data.ToArray();
        frame.Release();
        return jpeg;
    }

    /// <summary>A bare UDP socket speaking datagrams by hand to the hub (also the H.264 tests').</summary>
    internal sealed class RawUdp : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        public RawUdp(TestHub hub)
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _socket.Connect(new IPEndPoint(IPAddress.Loopback, hub.Server.UdpEndPoint!.Port));
        }

        public void Send(byte[] datagram) => _socket.Send(datagram);

        public int SendHello(ulong nonce, PeerRole role, string room = "main", string? token = null, byte flags = 0)
        {
            byte[] hello = new byte[UdpWire.MaxDatagram];
            int length = UdpWire.WriteHello(hello, 0, new UdpHello(nonce, flags, role, room, token, "raw test"));
            _socket.Send(hello.AsSpan(0, length));
            return length;
        }

        public void SendPing(ulong session)
        {
            byte[] ping = new byte[UdpWire.PingSize];
            UdpWire.WritePing(ping, session, new PingMessage(1, Clock.NowMicros()));
            _socket.Send(ping);
        }

        public void SendFrame(ulong session, uint frameId, byte[] picture, int width, int height, CodecId codec = CodecId.Jpeg)
        {
            using FragmentedFrame fragments = FrameFragmenter.Fragment(session, frameId, new VideoFrameHeader(codec, width, height, frameId, Clock.NowMicros()), picture, 0);
            for (int i = 0; i < fragments.Count; i++)
            {
                _socket.Send(fragments[i].Span);
            }
        }

        public async Task<byte[]> ReceiveAsync(CancellationToken cancellationToken = default)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TestHub.Timeout);
            byte[] buffer = new byte[2048];
            int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            return buffer[..n];
        }

        /// <summary>Reads (skipping frames and the rest) until the hub's BYE.</summary>
        public async Task<CloseMessage> ReceiveByeAsync()
        {
            using var timeout = new CancellationTokenSource(TestHub.Timeout);
            while (true)
            {
                if (UdpWire.TryReadBye(await ReceiveAsync(timeout.Token), out CloseMessage bye))
                {
                    return bye;
                }
            }
        }

        public async Task<byte[]?> TryReceiveAsync(TimeSpan wait)
        {
            using var timeout = new CancellationTokenSource(wait);
            byte[] buffer = new byte[2048];
            try
            {
                int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                return buffer[..n];
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
