using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using SocketCam.Hub;
using SocketCam.Tests.Support;
using static SocketCam.Tests.Compat.V1SpecClient;

namespace SocketCam.Tests.Compat;

/// <summary>
/// Issue 14: "version 1 peers keep working unchanged". Each test drives a real hub (started in-process on 127.0.0.1)
/// with <see cref="V1SpecClient"/>, a client written from docs/PROTOCOL.md Part I only, and checks what Part I and
/// §4.12 promise a v1 peer. The engine is used only to start the hub and to make test JPEGs; every byte on the wire is
/// written and read by the spec client.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class V1CompatibilityTests
{
    private const string PublisherLeft = "publisher left";
    /// <summary>Each test's whole budget; only a failing test ever waits for it (the full suite runs niced on 2 cores).</summary>
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task The_hub_sends_its_preface_at_once_and_a_v1_welcome_after_hello()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using V1SpecClient client = await ConnectAsync(hub.EndPoint, ct);

        // §1.3: the hub sends its preface as soon as it accepts, before the client has sent a byte.
        byte[] preface = await client.ReadHubPrefaceAsync(ct);
        Assert.Equal("SCAM"u8.ToArray(), preface[..4]);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(preface.AsSpan(4))); // offsets 6-7 ignored (§1.1, §4.12)

        await client.SendPrefaceAsync(ct);
        await client.SendHelloAsync(RoleViewer, "lobby", "", "v1-spec-client/1.0 view", ct);
        Message welcome = await NextOrFailAsync(client, ct);
        Assert.Equal(Welcome, welcome.Type);
        Assert.Equal(WelcomeSize, welcome.Payload.Length); // every byte after the preface is v1's (§4.12)
        Assert.Equal(16u * 1024 * 1024, welcome.AsWelcome().MaxFrameBytes); // the default cap, announced (§1.2)

        // A fresh room is live: nothing follows WELCOME until asked; the next thing is the answer to our PING.
        await client.SendPingAsync(1, 0, ct);
        Assert.Equal(Pong, (await NextOrFailAsync(client, ct)).Type);
    }

    [Fact]
    public async Task A_v1_publisher_reaches_two_v1_viewers_byte_for_byte()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using V1SpecClient viewer1 = await JoinViewerAsync(hub, "cam", ct);
        await using V1SpecClient viewer2 = await JoinViewerAsync(hub, "cam", ct);
        await using V1SpecClient publisher = await JoinAsync(hub.EndPoint, RolePublisher, "cam", ct, agent: "v1-spec-client/1.0 publish");

        List<byte[]> jpegs = TestMedia.EncodePattern(64, 48, 3);
        byte[] small = TestMedia.EncodePattern(32, 24, 1)[0];
        byte[] raw = new byte[16 * 8 * 3];
        for (int i = 0; i < raw.Length; i++)
        {
            raw[i] = (byte)(i * 7);
        }

        // Sequences with a gap, capture times on "the hub's clock" (any value: the hub passes them on), a size change
        // and a codec change mid-stream (v1 frames carry both; §4.12 says neither changes what v1 viewers get).
        (byte Codec, int Width, int Height, ulong Sequence, long Capture, byte[] Data)[] sent =
        [
            (CodecJpeg, 64, 48, 1000, 1_700_000_000_000_001, jpegs[0]),
            (CodecJpeg, 64, 48, 1001, 1_700_000_000_033_334, jpegs[1]),
            (CodecJpeg, 64, 48, 1005, 1_700_000_000_166_668, jpegs[2]),
            (CodecJpeg, 32, 24, 1006, 1_700_000_000_200_001, small),
            (CodecRawBgr24, 16, 8, 1007, 1_700_000_000_233_334, raw),
            (CodecJpeg, 64, 48, 1008, 1_700_000_000_266_668, jpegs[0]),
        ];

        // In lock step (each frame read by both viewers before the next is sent), so "newest wins" drops nothing.
        foreach ((byte codec, int width, int height, ulong sequence, long capture, byte[] data) in sent)
        {
            await publisher.SendVideoFrameAsync(codec, width, height, sequence, capture, data, ct);
            foreach (V1SpecClient viewer in (V1SpecClient[])[viewer1, viewer2])
            {
                // The room was live all along: no SIGNAL, only frames.
                Message message = await NextOrFailAsync(viewer, ct);
                Assert.Equal(VideoFrame, message.Type);
                Assert.Equal(0, message.Flags);
                FrameMessage frame = message.AsFrame();
                Assert.Equal(codec, frame.Codec);
                Assert.Equal(width, frame.Width);
                Assert.Equal(height, frame.Height);
                Assert.Equal(sequence, frame.Sequence);
                Assert.Equal(capture, frame.CaptureMicros);
                Assert.Equal(data, frame.Data);
            }
        }

        // The publisher hears nothing but answers: no SIGNAL, no VIDEO_FRAME, nothing of v2.
        await publisher.SendPingAsync(77, 0, ct);
        Assert.Equal(Pong, (await NextOrFailAsync(publisher, ct)).Type);
    }

    [Fact]
    public async Task A_second_v1_publisher_gets_room_busy_and_the_first_keeps_its_seat()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        byte[] jpeg = TestMedia.EncodePattern(64, 48, 1)[0];
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using V1SpecClient viewer = await JoinViewerAsync(hub, "cam", ct);
        await using V1SpecClient first = await JoinAsync(hub.EndPoint, RolePublisher, "cam", ct);

        await using (V1SpecClient second = await ConnectAsync(hub.EndPoint, ct))
        {
            CloseMessage error = await RefusedAsync(second, RolePublisher, "cam", "", ct);
            Assert.Equal(CodeRoomBusy, error.Code);
        }

        await first.SendVideoFrameAsync(CodecJpeg, 64, 48, 1, 42, jpeg, ct);
        FrameMessage frame = (await NextOrFailAsync(viewer, ct)).AsFrame();
        Assert.Equal(1ul, frame.Sequence);
        Assert.Equal(jpeg, frame.Data);
    }

    [Fact]
    public async Task The_hubs_own_capture_holds_the_seat_and_streams_to_a_v1_viewer()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        await using TestHub hub = TestHub.Start(); // `serve --source pattern`: room "main", 320x240 JPEG at 30 fps
        await using V1SpecClient viewer = await JoinAsync(hub.EndPoint, RoleViewer, "main", ct);

        ulong lastSequence = 0;
        long lastCapture = long.MinValue;
        for (int i = 0; i < 10; i++)
        {
            Message message = await NextOrFailAsync(viewer, ct);
            Assert.Equal(VideoFrame, message.Type); // a live room: no SIGNAL on joining, frames only
            FrameMessage frame = message.AsFrame(); // SOI/EOI, size and fields checked by the spec client
            Assert.Equal(CodecJpeg, frame.Codec);
            Assert.Equal(320, frame.Width);
            Assert.Equal(240, frame.Height);
            Assert.True(i == 0 || frame.Sequence > lastSequence, $"sequence went from {lastSequence} to {frame.Sequence}");
            Assert.True(frame.CaptureMicros >= lastCapture, $"capture time went from {lastCapture} to {frame.CaptureMicros}");
            lastSequence = frame.Sequence;
            lastCapture = frame.CaptureMicros;
        }

        // "The hub's own capture counts as one" publisher.
        await using V1SpecClient publisher = await ConnectAsync(hub.EndPoint, ct);
        Assert.Equal(CodeRoomBusy, (await RefusedAsync(publisher, RolePublisher, "main", "", ct)).Code);
    }

    [Fact]
    public async Task A_v1_viewer_may_not_send_frames_or_signals()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        byte[] jpeg = TestMedia.EncodePattern(64, 48, 1)[0];
        await using TestHub hub = TestHub.Start(captureRoom: null);

        // A whole VIDEO_FRAME from a viewer: its frame cap is 0, so too-large.
        await using (V1SpecClient viewer = await JoinViewerAsync(hub, "cam", ct))
        {
            await viewer.SendVideoFrameAsync(CodecJpeg, 64, 48, 1, 0, jpeg, ct);
            Assert.Equal(CodeTooLarge, (await ReadFatalErrorAsync(viewer, ct)).Code);
        }

        // "refused with ERROR too-large from its 8 bytes alone, before any payload is buffered": only the header is sent.
        await using (V1SpecClient viewer = await JoinViewerAsync(hub, "cam", ct))
        {
            byte[] header = BuildVideoFrame(CodecJpeg, 64, 48, 1, 0, jpeg)[..HeaderSize];
            await viewer.SendAsync(header, ct);
            Assert.Equal(CodeTooLarge, (await ReadFatalErrorAsync(viewer, ct)).Code);
        }

        // "a SIGNAL from a viewer is malformed".
        await using (V1SpecClient viewer = await JoinViewerAsync(hub, "cam", ct))
        {
            await viewer.SendSignalAsync(false, "not mine to say", ct);
            Assert.Equal(CodeMalformed, (await ReadFatalErrorAsync(viewer, ct)).Code);
        }
    }

    [Fact]
    public async Task A_publisher_leaving_means_publisher_left_and_the_next_ones_first_frame_signal_live()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        List<byte[]> jpegs = TestMedia.EncodePattern(64, 48, 3);
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using V1SpecClient viewer1 = await JoinViewerAsync(hub, "cam", ct);
        await using V1SpecClient viewer2 = await JoinViewerAsync(hub, "cam", ct);

        // A publishes, then leaves politely (GOODBYE normal, close).
        await using (V1SpecClient a = await JoinPublisherAsync(hub, "cam", ct))
        {
            await a.SendVideoFrameAsync(CodecJpeg, 64, 48, 1, 100, jpegs[0], ct);
            await ExpectFrameAsync([viewer1, viewer2], 1, jpegs[0], ct);
            await a.SendGoodbyeAsync(CodeNormal, "bye", ct);
        }

        await ExpectSignalAsync([viewer1, viewer2], live: false, PublisherLeft, ct);

        // A viewer joining a room without signal hears it right after WELCOME, before anything else.
        await using V1SpecClient viewer3 = await JoinAsync(hub.EndPoint, RoleViewer, "cam", ct);
        await ExpectSignalAsync([viewer3], live: false, PublisherLeft, ct);

        // B takes the seat: its first frame is preceded by SIGNAL(1). Then B's connection just drops (no GOODBYE).
        V1SpecClient b = await JoinPublisherAsync(hub, "cam", ct);
        try
        {
            await b.SendVideoFrameAsync(CodecJpeg, 64, 48, 1, 200, jpegs[1], ct);
            await ExpectSignalAsync([viewer1, viewer2, viewer3], live: true, text: null, ct);
            await ExpectFrameAsync([viewer1, viewer2, viewer3], 1, jpegs[1], ct);
            await b.SendVideoFrameAsync(CodecJpeg, 64, 48, 2, 233, jpegs[2], ct);
            await ExpectFrameAsync([viewer1, viewer2, viewer3], 2, jpegs[2], ct);
            b.Abort();
        }
        finally
        {
            await b.DisposeAsync();
        }

        await ExpectSignalAsync([viewer1, viewer2, viewer3], live: false, PublisherLeft, ct);

        // C: live again, then frames.
        await using V1SpecClient c = await JoinPublisherAsync(hub, "cam", ct);
        await c.SendVideoFrameAsync(CodecJpeg, 64, 48, 50, 300, jpegs[0], ct);
        await ExpectSignalAsync([viewer1, viewer2, viewer3], live: true, text: null, ct);
        await ExpectFrameAsync([viewer1, viewer2, viewer3], 50, jpegs[0], ct);
    }

    [Fact]
    public async Task A_v1_publishers_signal_reaches_its_v1_viewers()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        byte[] jpeg = TestMedia.EncodePattern(64, 48, 1)[0];
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using V1SpecClient viewer = await JoinViewerAsync(hub, "cam", ct);
        await using V1SpecClient publisher = await JoinPublisherAsync(hub, "cam", ct);

        await publisher.SendSignalAsync(false, "camera unplugged", ct);
        await ExpectSignalAsync([viewer], live: false, "camera unplugged", ct);
        await publisher.SendSignalAsync(false, "camera unplugged", ct); // the same state again: nothing is sent
        await publisher.SendSignalAsync(false, "retry 2 failed", ct); // a new reason is a change
        await ExpectSignalAsync([viewer], live: false, "retry 2 failed", ct);
        await publisher.SendVideoFrameAsync(CodecJpeg, 64, 48, 9, 900, jpeg, ct);
        await ExpectSignalAsync([viewer], live: true, text: null, ct);
        await ExpectFrameAsync([viewer], 9, jpeg, ct);
    }

    [Fact]
    public async Task Ping_gets_a_pong_that_echoes_its_id_and_time()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using V1SpecClient viewer = await JoinAsync(hub.EndPoint, RoleViewer, "cam", ct);
        await using V1SpecClient publisher = await JoinAsync(hub.EndPoint, RolePublisher, "cam", ct);

        foreach ((V1SpecClient client, uint id, long sent) in ((V1SpecClient, uint, long)[])[(viewer, 0xDEADBEEF, 0x0123_4567_89AB_CDEF), (publisher, 7, -5), (viewer, 8, 0)])
        {
            await client.SendPingAsync(id, sent, ct);
            Message message = await NextOrFailAsync(client, ct);
            Assert.Equal(Pong, message.Type);
            PongMessage pong = message.AsPong();
            Assert.Equal(id, pong.Id);
            Assert.Equal(sent, pong.EchoSentMicros);
        }
    }

    [Fact]
    public async Task A_wrong_or_missing_token_gets_unauthorized_and_the_right_one_welcome()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new SessionOptions { Token = "s3cret" } }, captureRoom: null);

        await using (V1SpecClient wrong = await ConnectAsync(hub.EndPoint, ct))
        {
            Assert.Equal(CodeUnauthorized, (await RefusedAsync(wrong, RoleViewer, "cam", "guess", ct)).Code);
        }

        await using (V1SpecClient missing = await ConnectAsync(hub.EndPoint, ct))
        {
            Assert.Equal(CodeUnauthorized, (await RefusedAsync(missing, RolePublisher, "cam", "", ct)).Code);
        }

        await using V1SpecClient right = await JoinAsync(hub.EndPoint, RoleViewer, "cam", ct, token: "s3cret");
        Assert.NotNull(right.Welcomed);
    }

    [Fact]
    public async Task No_hello_in_time_or_another_message_first_or_silence_ends_the_session_with_error()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new SessionOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(300) } }, captureRoom: null);
        await using TestHub idleHub = TestHub.Start(new HubOptions { Sessions = new SessionOptions { IdleTimeout = TimeSpan.FromMilliseconds(500) } }, captureRoom: null);

        // A preface and then nothing: handshake-timeout.
        await using (V1SpecClient client = await ConnectAsync(hub.EndPoint, ct))
        {
            await client.ReadHubPrefaceAsync(ct);
            await client.SendPrefaceAsync(ct);
            Assert.Equal(CodeHandshakeTimeout, (await ReadFatalErrorAsync(client, ct)).Code);
        }

        // "Anything other than HELLO as the first message ... ends the session with an ERROR" (the spec names no code).
        await using (V1SpecClient client = await ConnectAsync(hub.EndPoint, ct))
        {
            await client.ReadHubPrefaceAsync(ct);
            await client.SendPrefaceAsync(ct);
            await client.SendPingAsync(1, 0, ct);
            await ReadFatalErrorAsync(client, ct);
        }

        // Joined, then silent: idle-timeout.
        await using (V1SpecClient viewer = await JoinAsync(idleHub.EndPoint, RoleViewer, "cam", ct))
        {
            Assert.Equal(CodeIdleTimeout, (await ReadFatalErrorAsync(viewer, ct)).Code);
        }
    }

    [Fact]
    public async Task Hub_shutdown_says_goodbye_server_shutdown_to_v1_publisher_and_viewer()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        byte[] jpeg = TestMedia.EncodePattern(64, 48, 1)[0];
        TestHub hub = TestHub.Start(captureRoom: null);
        try
        {
            await using V1SpecClient viewer = await JoinViewerAsync(hub, "cam", ct);
            await using V1SpecClient publisher = await JoinPublisherAsync(hub, "cam", ct);
            await publisher.SendVideoFrameAsync(CodecJpeg, 64, 48, 1, 1, jpeg, ct);
            await ExpectFrameAsync([viewer], 1, jpeg, ct);

            Task<List<Message>> viewerEnd = ReadToEndAsync(viewer, ct);
            Task<List<Message>> publisherEnd = ReadToEndAsync(publisher, ct);
            await hub.DisposeAsync();

            // "When the hub itself is shutting down, viewers get GOODBYE server-shutdown instead" of SIGNAL(0, publisher left).
            AssertEndsWithShutdownGoodbye(await viewerEnd, "viewer");
            AssertEndsWithShutdownGoodbye(await publisherEnd, "publisher");
        }
        finally
        {
            await hub.DisposeAsync();
        }
    }

    [Fact]
    public async Task Hub_shutdown_says_goodbye_to_a_v1_viewer_of_the_hubs_own_capture()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        TestHub hub = TestHub.Start();
        try
        {
            await using V1SpecClient viewer = await JoinAsync(hub.EndPoint, RoleViewer, "main", ct);
            Assert.Equal(VideoFrame, (await NextOrFailAsync(viewer, ct)).Type);

            Task<List<Message>> viewerEnd = ReadToEndAsync(viewer, ct);
            await hub.DisposeAsync();
            AssertEndsWithShutdownGoodbye(await viewerEnd, "viewer");
        }
        finally
        {
            await hub.DisposeAsync();
        }
    }

    // ---- the spec client's own strictness, against a fake hub --------------------------------------------------------

    [Fact]
    public async Task The_spec_client_ignores_preface_bytes_6_and_7_and_refuses_what_the_spec_forbids()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        CancellationToken ct = timeout.Token;
        byte[] v2Preface = [0x53, 0x43, 0x41, 0x4D, 0x00, 0x01, 0x00, 0x02];
        byte[] welcome = [0x02, 0, 0, 0, 0, 0, 0, 20, .. new byte[20]];
        welcome[HeaderSize + 19] = 64; // max_frame_bytes 64

        // A v2 hub's preface (max_version 2 at offset 6) and a WELCOME: fine for a v1 client.
        await FakeHubAsync([.. v2Preface, .. welcome], async client =>
        {
            await client.HandshakeAsync(RoleViewer, "cam", ct);
            Assert.Equal(64u, client.Welcomed!.Value.MaxFrameBytes);
        });

        async Task RefusedAfterWelcome(byte[] message, string expected) =>
            await FakeHubAsync([.. v2Preface, .. welcome, .. message], async client =>
            {
                await client.HandshakeAsync(RoleViewer, "cam", ct);
                var ex = await Assert.ThrowsAsync<InvalidDataException>(async () =>
                {
                    while (await client.ReadMessageAsync(ct) is not null)
                    {
                    }
                });
                Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
            });

        await RefusedAfterWelcome([0x10, 0, 0, 0, 0, 0, 0, 24 + 65], "its cap is 88"); // a frame above the announced cap
        await RefusedAfterWelcome([0x40, 0, 0, 0, 0, 0, 0, 0], "Unknown message type 0x40");
        await RefusedAfterWelcome([0x30, 0, 0, 0, 0, 0, 0, 4, 0, 15, 0, 0], "not a version 1 code"); // v2's unknown-type
        await RefusedAfterWelcome([0x11, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 2, 0x41, 0x07], "control character");
        await RefusedAfterWelcome([0x11, 0, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0], "SIGNAL state 2");
        await RefusedAfterWelcome([0x31, 0, 0, 0, 0, 0, 0, 4, 0, 9, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0], "after its ERROR or GOODBYE");

        await FakeHubAsync([0x53, 0x43, 0x41, 0x4D, 0x00, 0x02, 0x00, 0x00], async client =>
        {
            var ex = await Assert.ThrowsAsync<InvalidDataException>(() => client.ReadHubPrefaceAsync(ct));
            Assert.Contains("version 2", ex.Message, StringComparison.Ordinal);
        });

        async Task FakeHubAsync(byte[] script, Func<V1SpecClient, Task> run)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            await using V1SpecClient client = await ConnectAsync(listener.LocalEndpoint, ct);
            using Socket accepted = await listener.AcceptSocketAsync(ct);
            await accepted.SendAsync(script, SocketFlags.None, ct);
            await run(client);
        }
    }

    // ---- helpers (spec client only) ----------------------------------------------------------------------------------

    /// <summary>Joins as a viewer and waits for the answer to a PING, so the hub has the viewer in the room before the test goes on.</summary>
    private static async Task<V1SpecClient> JoinViewerAsync(TestHub hub, string room, CancellationToken ct)
    {
        V1SpecClient viewer = await JoinAsync(hub.EndPoint, RoleViewer, room, ct, agent: "v1-spec-client/1.0 view");
        await viewer.SendPingAsync(0xC0FFEE, 0, ct);
        Message pong = await NextOrFailAsync(viewer, ct);
        Assert.Equal(Pong, pong.Type);
        Assert.Equal(0xC0FFEEu, pong.AsPong().Id);
        return viewer;
    }

    /// <summary>
    /// Joins as a publisher; on room-busy it retries, as a v1 publisher does: a leaving publisher's SIGNAL(0) may reach
    /// the viewers a moment before its seat is free, and the spec promises nothing about that order.
    /// </summary>
    private static async Task<V1SpecClient> JoinPublisherAsync(TestHub hub, string room, CancellationToken ct)
    {
        while (true)
        {
            V1SpecClient publisher = await ConnectAsync(hub.EndPoint, ct);
            try
            {
                await publisher.ReadHubPrefaceAsync(ct);
                await publisher.SendPrefaceAsync(ct);
                await publisher.SendHelloAsync(RolePublisher, room, "", "v1-spec-client/1.0 publish", ct);
                Message answer = await NextOrFailAsync(publisher, ct);
                if (answer.Type == Welcome)
                {
                    return publisher;
                }

                Assert.Equal(Error, answer.Type);
                Assert.Equal(CodeRoomBusy, answer.AsClose().Code);
            }
            catch
            {
                await publisher.DisposeAsync();
                throw;
            }

            await publisher.DisposeAsync();
            await Task.Delay(20, ct);
        }
    }

    /// <summary>Exchanges prefaces, sends HELLO and expects ERROR instead of WELCOME, then the end of the stream.</summary>
    private static async Task<CloseMessage> RefusedAsync(V1SpecClient client, byte role, string room, string token, CancellationToken ct)
    {
        await client.ReadHubPrefaceAsync(ct);
        await client.SendPrefaceAsync(ct);
        await client.SendHelloAsync(role, room, token, "v1-spec-client/1.0", ct);
        return await ReadFatalErrorAsync(client, ct);
    }

    /// <summary>The next message must be ERROR, and nothing may follow it but the close.</summary>
    private static async Task<CloseMessage> ReadFatalErrorAsync(V1SpecClient client, CancellationToken ct)
    {
        Message message = await NextOrFailAsync(client, ct);
        Assert.True(message.Type == Error, $"expected ERROR, got type 0x{message.Type:X2}");
        CloseMessage error = message.AsClose();
        await client.ReadEndAsync(ct);
        return error;
    }

    private static async Task<Message> NextOrFailAsync(V1SpecClient client, CancellationToken ct)
    {
        Message? message = await client.NextAsync(ct);
        Assert.True(message is not null, "The hub closed the connection.");
        return message.Value;
    }

    private static async Task ExpectFrameAsync(V1SpecClient[] viewers, ulong sequence, byte[] data, CancellationToken ct)
    {
        foreach (V1SpecClient viewer in viewers)
        {
            Message message = await NextOrFailAsync(viewer, ct);
            Assert.True(message.Type == VideoFrame, $"expected VIDEO_FRAME {sequence}, got type 0x{message.Type:X2}" + (message.Type == Signal ? $" {message.AsSignal()}" : ""));
            FrameMessage frame = message.AsFrame();
            Assert.Equal(sequence, frame.Sequence);
            Assert.Equal(data, frame.Data);
        }
    }

    /// <param name="text">The reason expected, or null not to look at it (the spec gives SIGNAL(1) no text).</param>
    private static async Task ExpectSignalAsync(V1SpecClient[] viewers, bool live, string? text, CancellationToken ct)
    {
        foreach (V1SpecClient viewer in viewers)
        {
            Message message = await NextOrFailAsync(viewer, ct);
            Assert.True(message.Type == Signal, $"expected SIGNAL({(live ? 1 : 0)}), got type 0x{message.Type:X2}");
            SignalMessage signal = message.AsSignal();
            Assert.Equal(live, signal.Live);
            if (text is not null)
            {
                Assert.Equal(text, signal.Text);
            }
        }
    }

    /// <summary>Every message until the hub closes the connection.</summary>
    private static async Task<List<Message>> ReadToEndAsync(V1SpecClient client, CancellationToken ct)
    {
        var messages = new List<Message>();
        while (await client.NextAsync(ct) is { } message)
        {
            messages.Add(message);
        }

        return messages;
    }

    private static void AssertEndsWithShutdownGoodbye(List<Message> messages, string who)
    {
        Assert.True(messages.Count > 0, $"The {who} got no GOODBYE before the close.");
        Message last = messages[^1];
        Assert.True(last.Type == Goodbye, $"The {who}'s last message is type 0x{last.Type:X2}, not GOODBYE.");
        Assert.Equal(CodeServerShutdown, last.AsClose().Code);
        // Before it: frames only (no SIGNAL: on shutdown GOODBYE comes instead of "publisher left").
        Assert.All(messages[..^1], m => Assert.True(m.Type == VideoFrame, $"The {who} got type 0x{m.Type:X2} before GOODBYE: " + (m.Type == Signal ? m.AsSignal().ToString() : "")));
    }
}
