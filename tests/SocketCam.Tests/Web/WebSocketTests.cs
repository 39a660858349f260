using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Sources;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Web;

/// <summary>The watch and publish WebSockets (docs/HTTP.md) with real ClientWebSockets against a real hub and Kestrel.</summary>
[Collection(NetworkCollection.Name)]
public sealed class WebSocketTests
{
    [Fact]
    public async Task A_watcher_gets_hello_then_frames_with_the_documented_header_and_whole_JPEGs()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 320, height: 240);
        using ClientWebSocket socket = await ConnectAsync(server, "/rooms/main/ws");
        using JsonDocument hello = JsonDocument.Parse(await ReceiveTextAsync(socket));
        Assert.Equal("hello", hello.RootElement.GetProperty("type").GetString());
        Assert.Equal("main", hello.RootElement.GetProperty("room").GetString());
        Assert.True(hello.RootElement.GetProperty("serverTime").GetInt64() > 1_600_000_000_000_000);

        uint lastSequence = 0;
        for (int i = 0; i < 10; i++)
        {
            WatchedFrame frame = await ReceiveFrameAsync(socket);
            Assert.True(frame.SendMicros >= frame.CaptureMicros, "sent before it was captured");
            Assert.Equal((320, 240), (frame.Width, frame.Height));
            Assert.True(JpegStructure.TryValidate(frame.Jpeg, out int width, out int height, out string? error), error);
            Assert.Equal((320, 240), (width, height));
            Assert.True(i == 0 || frame.Sequence > lastSequence, "sequences go forward");
            lastSequence = frame.Sequence;
        }
    }

    [Fact]
    public async Task A_watcher_that_asks_for_H264_is_marked_so_and_gets_28_byte_headers_with_codec_and_keyframe_flag()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 320, height: 240);
        using ClientWebSocket socket = await ConnectAsync(server, "/rooms/main/ws?codec=h264");
        using JsonDocument hello = JsonDocument.Parse(await ReceiveTextAsync(socket));
        Assert.Equal("jpeg,h264", hello.RootElement.GetProperty("codecs").GetString());

        // The room's viewers: this one says it takes H.264 as it is (the room's wiring decides what it gets).
        await Eventually.UntilAsync(() => server.Hub.Server.Clients.Snapshot().OfType<IRoomViewer>().Any(v => v.AcceptsH264), "the watcher is registered as taking H.264");

        // This room is JPEG: the frames are JPEG, each with codec 1 and the keyframe flag after the usual 24 bytes.
        using CancellationTokenSource timeout = new(TestHub.Timeout);
        byte[] data;
        do
        {
            (WebSocketMessageType type, data) = await ReceiveAsync(socket, timeout.Token);
            if (type == WebSocketMessageType.Binary)
            {
                break;
            }
        }
        while (true);

        Assert.Equal((byte)CodecId.Jpeg, data[24]);
        Assert.Equal((byte)FrameFlags.Keyframe, data[25]);
        Assert.Equal((320, 240), (BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(20)), BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(22))));
        Assert.True(JpegStructure.TryValidate(data.AsSpan(28), out _, out _, out string? error), error);

        // Without the query: the plain 24-byte header (the JPEG right after it).
        using ClientWebSocket plain = await ConnectAsync(server, "/rooms/main/ws");
        using JsonDocument plainHello = JsonDocument.Parse(await ReceiveTextAsync(plain));
        Assert.Equal("jpeg", plainHello.RootElement.GetProperty("codecs").GetString());
        WatchedFrame frame = await ReceiveFrameAsync(plain);
        Assert.True(JpegStructure.TryValidate(frame.Jpeg, out _, out _, out error), error);
    }

    [Fact]
    public async Task A_ping_is_answered_with_its_t_and_page_stats_show_up_in_api_stats()
    {
        await using WebTestServer server = await WebTestServer.StartAsync();
        using ClientWebSocket socket = await ConnectAsync(server, "/rooms/main/ws");
        await SendTextAsync(socket, """{"type":"ping","t":12345.5}""");
        await SendTextAsync(socket, """{"type":"stats","fps":29.5,"latencyMs":17.3,"latencyP99Ms":40,"framesDrawn":77,"framesDropped":3,"width":320,"height":240}""");
        await SendTextAsync(socket, """{"type":"nonsense"} and not even JSON""");

        using CancellationTokenSource timeout = new(TestHub.Timeout);
        while (true)
        {
            (WebSocketMessageType type, byte[] data) = await ReceiveAsync(socket, timeout.Token);
            if (type != WebSocketMessageType.Text)
            {
                continue;
            }

            using JsonDocument message = JsonDocument.Parse(data);
            if (message.RootElement.GetProperty("type").GetString() == "pong")
            {
                Assert.Equal(12345.5, message.RootElement.GetProperty("t").GetDouble());
                Assert.True(message.RootElement.GetProperty("serverTime").GetInt64() > 1_600_000_000_000_000);
                break;
            }
        }

        await Eventually.UntilAsync(
            async () =>
            {
                JsonElement stats = await HttpServerTests.GetJsonAsync(server.Http, "/api/stats");
                JsonElement? client = stats.GetProperty("clients").EnumerateArray().Cast<JsonElement?>().SingleOrDefault(c => c!.Value.GetProperty("kind").GetString() == "websocket");
                return client is { } c && c.TryGetProperty("page", out JsonElement page)
                    && page.GetProperty("latencyMs").GetDouble() == 17.3 && page.GetProperty("framesDrawn").GetInt64() == 77
                    && page.GetProperty("width").GetInt32() == 320 && c.GetProperty("framesSent").GetInt64() > 0;
            },
            "/api/stats shows the watcher with what its page reported");
        JsonElement rooms = await HttpServerTests.GetJsonAsync(server.Http, "/api/rooms");
        Assert.Equal(1, rooms.GetProperty("rooms")[0].GetProperty("viewers").GetProperty("websocket").GetInt32());
    }

    [Fact]
    public async Task A_published_JPEG_reaches_a_native_viewer_and_a_watcher_byte_for_byte()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        using ClientWebSocket publisher = await ConnectAsync(server, "/rooms/cam/publish/ws");
        using JsonDocument hello = JsonDocument.Parse(await ReceiveTextAsync(publisher));
        Assert.Equal("cam", hello.RootElement.GetProperty("room").GetString());
        Assert.Equal(new SessionOptions().MaxFrameBytes, hello.RootElement.GetProperty("maxFrameBytes").GetInt32());

        var nativeJpegs = new System.Collections.Concurrent.ConcurrentQueue<byte[]>();
        await using TestViewer native = TestViewer.Start(server.Hub.Endpoint, room: "cam", onReceived: (_, data) => nativeJpegs.Enqueue(data.ToArray()));
        using ClientWebSocket watcher = await ConnectAsync(server, "/rooms/cam/ws");
        await ReceiveTextAsync(watcher); // hello
        byte[][] jpegs = await EncodePatternAsync(160, 120, 3);

        // Publish until the watcher has seen each of the three pictures (a viewer may skip a frame, never corrupt one).
        var seen = new HashSet<string>();
        using CancellationTokenSource timeout = new(TestHub.Timeout);
        for (int i = 0; seen.Count < jpegs.Length; i++)
        {
            await publisher.SendAsync(jpegs[i % jpegs.Length], WebSocketMessageType.Binary, true, timeout.Token);
            WatchedFrame frame = await ReceiveFrameAsync(watcher, timeout.Token);
            Assert.Equal((160, 120), (frame.Width, frame.Height));
            Assert.Contains(jpegs, j => j.AsSpan().SequenceEqual(frame.Jpeg));
            seen.Add(Convert.ToHexString(frame.Jpeg.AsSpan(frame.Jpeg.Length - 32)));
        }

        await native.WaitForFramesAsync(1);
        Assert.All(nativeJpegs, received => Assert.Contains(jpegs, j => j.AsSpan().SequenceEqual(received)));
    }

    [Theory]
    [InlineData("garbage", "not a JPEG")]
    [InlineData("truncated", "not a JPEG")]
    public async Task A_publisher_sending_non_JPEG_data_is_closed_with_1003_and_others_keep_streaming(string kind, string reason)
    {
        await using WebTestServer server = await WebTestServer.StartAsync();
        using ClientWebSocket watcher = await ConnectAsync(server, "/rooms/main/ws");
        await ReceiveTextAsync(watcher);
        using ClientWebSocket publisher = await ConnectAsync(server, "/rooms/cam/publish/ws");
        await ReceiveTextAsync(publisher);

        byte[] bad = kind == "garbage"
            ? Encoding.ASCII.GetBytes("this is not a picture at all")
            : (await EncodePatternAsync(160, 120, 1))[0][..600];
        await publisher.SendAsync(bad, WebSocketMessageType.Binary, true, CancellationToken.None);
        (WebSocketCloseStatus? status, string? description) = await ReceiveCloseAsync(publisher);
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, status);
        Assert.StartsWith(reason, description, StringComparison.Ordinal);

        await ReceiveFramesAsync(watcher, 10); // the other room's watcher never noticed
        Assert.Contains(server.Hub.Logs.Entries, e => e.Message.Contains("not a JPEG", StringComparison.Ordinal));
        // The seat is free again: a new publisher may take the room.
        using ClientWebSocket again = await ConnectAsync(server, "/rooms/cam/publish/ws");
        Assert.Contains("hello", await ReceiveTextAsync(again), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(64 * 1024)]
    [InlineData(100_000)] // pooled buffers come in powers of two: the cap ends inside one
    [InlineData(2048)] // below the first buffer's size
    public async Task An_oversized_frame_is_refused_with_1009_before_it_is_buffered_whole(int cap)
    {
        await using WebTestServer server = await WebTestServer.StartAsync(hubOptions: new HubOptions { Sessions = new() { MaxFrameBytes = cap } });
        using ClientWebSocket watcher = await ConnectAsync(server, "/rooms/main/ws");
        await ReceiveTextAsync(watcher);
        using ClientWebSocket publisher = await ConnectAsync(server, "/rooms/big/publish/ws");
        await ReceiveTextAsync(publisher);

        // A JPEG start, then far more than the cap, sent as fragments of one message that never ends.
        byte[] chunk = new byte[16 * 1024];
        chunk[0] = 0xFF;
        chunk[1] = 0xD8;
        Task<(WebSocketCloseStatus?, string?)> closed = ReceiveCloseAsync(publisher);
        try
        {
            for (int i = 0; i < 64 && !closed.IsCompleted; i++)
            {
                await publisher.SendAsync(chunk, WebSocketMessageType.Binary, false, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException)
        {
            // The server closed while we were still sending: expected.
        }

        (WebSocketCloseStatus? status, string? description) = await closed;
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
        Assert.Contains($"more than {cap} bytes", description, StringComparison.Ordinal);
        await ReceiveFramesAsync(watcher, 10);
    }

    [Fact]
    public async Task A_watcher_sending_binary_or_a_huge_text_is_closed_and_the_other_watcher_is_not()
    {
        await using WebTestServer server = await WebTestServer.StartAsync();
        using ClientWebSocket good = await ConnectAsync(server, "/rooms/main/ws");
        using ClientWebSocket binary = await ConnectAsync(server, "/rooms/main/ws");
        using ClientWebSocket huge = await ConnectAsync(server, "/rooms/main/ws");

        await binary.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None);
        await huge.SendAsync(Encoding.UTF8.GetBytes(new string('x', 5000)), WebSocketMessageType.Text, true, CancellationToken.None);

        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, (await ReceiveCloseAsync(binary)).Status);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, (await ReceiveCloseAsync(huge)).Status);
        await ReceiveTextAsync(good);
        await ReceiveFramesAsync(good, 10);
    }

    [Fact]
    public async Task Refusals_are_close_codes_with_a_readable_reason()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(token: "s3cret");

        (WebSocketCloseStatus? status, string? reason) = await RefusedAsync(server, "/rooms/main/ws");
        Assert.Equal(4401, (int)status!);
        Assert.Contains("token", reason, StringComparison.Ordinal);
        Assert.Equal(4401, (int)(await RefusedAsync(server, "/rooms/main/publish/ws?token=wrong")).Status!);

        (status, reason) = await RefusedAsync(server, "/rooms/nosuch/ws?token=s3cret");
        Assert.Equal(4404, (int)status!);
        Assert.Equal("unknown room 'nosuch' (rooms: 'main')", reason);

        // The capture pipeline holds main's publisher seat.
        (status, reason) = await RefusedAsync(server, "/rooms/main/publish/ws?token=s3cret");
        Assert.Equal(4409, (int)status!);
        Assert.Contains("already has a publisher", reason, StringComparison.Ordinal);

        // With the token in the query, a watcher streams.
        using ClientWebSocket socket = await ConnectAsync(server, "/rooms/main/ws?token=s3cret");
        await ReceiveFramesAsync(socket, 3);

        // Not a WebSocket request: plain HTTP says what the endpoint is.
        using HttpResponseMessage plain = await server.Http.GetAsync("/rooms/main/ws?token=s3cret");
        Assert.Equal(HttpStatusCode.BadRequest, plain.StatusCode);
    }

    [Fact]
    public async Task A_raw_room_cannot_be_watched_in_a_browser()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(codec: CodecId.RawBgr24);
        await using (TestViewer native = TestViewer.Start(server.Hub.Endpoint))
        {
            await native.WaitForFramesAsync(1); // the room has a raw frame now
        }

        (WebSocketCloseStatus? status, string? reason) = await RefusedAsync(server, "/rooms/main/ws");
        Assert.Equal(4415, (int)status!);
        Assert.Contains("JPEG", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_publisher_that_vanishes_mid_frame_frees_the_seat_and_viewers_hear_no_signal()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        byte[] jpeg = (await EncodePatternAsync(160, 120, 1))[0];
        var publisher = new ClientWebSocket();
        await publisher.ConnectAsync(server.WebSocketUri("/rooms/cam/publish/ws"), CancellationToken.None);
        await ReceiveTextAsync(publisher);
        await using TestViewer native = TestViewer.Start(server.Hub.Endpoint, room: "cam");
        await Eventually.UntilAsync(
            async () =>
            {
                await publisher.SendAsync(jpeg, WebSocketMessageType.Binary, true, CancellationToken.None);
                return native.Decoded > 0;
            },
            "the native viewer gets the browser's frames");

        // Half a frame, then the connection is gone (no close frame).
        await publisher.SendAsync(jpeg.AsMemory(0, jpeg.Length / 2), WebSocketMessageType.Binary, false, CancellationToken.None);
        publisher.Abort();
        publisher.Dispose();

        IReadOnlyList<SignalChange> signals = await native.WaitForSignalsAsync(1);
        Assert.False(signals[0].Live);
        Assert.Contains("publisher left", signals[0].Reason, StringComparison.Ordinal);
        using ClientWebSocket next = await ConnectAsync(server, "/rooms/cam/publish/ws");
        Assert.Contains("hello", await ReceiveTextAsync(next), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_idle_publisher_is_closed_with_1008()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, hubOptions: new HubOptions { Sessions = new() { IdleTimeout = TimeSpan.FromSeconds(1) } });
        using ClientWebSocket publisher = await ConnectAsync(server, "/rooms/cam/publish/ws");
        (WebSocketCloseStatus? status, string? reason) = await ReceiveCloseAsync(publisher);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Contains("sent nothing", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_watcher_that_never_reads_skips_frames_and_does_not_hold_up_another()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 640, height: 480);
        // A raw TCP client that upgrades and then never reads: its kernel buffers fill and its slot keeps only the newest.
        using var stalled = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(IPAddress.Loopback, server.Web.EndPoint.Port);
        string key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        await stalled.SendAsync(Encoding.ASCII.GetBytes(
            $"GET /rooms/main/ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"), SocketFlags.None);

        byte[] answer = new byte[64];
        int read = await stalled.ReceiveAsync(answer, SocketFlags.None);
        Assert.StartsWith("HTTP/1.1 101", Encoding.ASCII.GetString(answer, 0, read), StringComparison.Ordinal);
        string stalledRemote = $"127.0.0.1:{((IPEndPoint)stalled.LocalEndPoint!).Port}";

        using ClientWebSocket good = await ConnectAsync(server, "/rooms/main/ws");
        await ReceiveTextAsync(good);
        await ReceiveFramesAsync(good, 60);
        await Eventually.UntilAsync(
            async () =>
            {
                JsonElement stats = await HttpServerTests.GetJsonAsync(server.Http, "/api/stats");
                return stats.GetProperty("clients").EnumerateArray().Any(c => c.GetProperty("remote").GetString() == stalledRemote && c.GetProperty("framesDropped").GetInt64() > 0);
            },
            "the stalled watcher's skipped frames are counted");
    }

    [Fact]
    public async Task Shutting_the_HTTP_server_down_closes_watchers_with_1001()
    {
        WebTestServer server = await WebTestServer.StartAsync();
        try
        {
            using ClientWebSocket socket = await ConnectAsync(server, "/rooms/main/ws");
            await ReceiveFramesAsync(socket, 2);
            Task<(WebSocketCloseStatus?, string?)> closed = ReceiveCloseAsync(socket);
            await server.Web.DisposeAsync();
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, (await closed).Item1);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    internal static async Task<ClientWebSocket> ConnectAsync(WebTestServer server, string path)
    {
        var socket = new ClientWebSocket();
        using CancellationTokenSource timeout = new(TestHub.Timeout);
        await socket.ConnectAsync(server.WebSocketUri(path), timeout.Token);
        return socket;
    }

    private static async Task<(WebSocketCloseStatus? Status, string? Reason)> RefusedAsync(WebTestServer server, string path)
    {
        using ClientWebSocket socket = await ConnectAsync(server, path);
        return await ReceiveCloseAsync(socket);
    }

    /// <summary>Reads (and drops) messages until the server's close frame; returns its code and reason.</summary>
    internal static async Task<(WebSocketCloseStatus? Status, string? Reason)> ReceiveCloseAsync(ClientWebSocket socket)
    {
        using CancellationTokenSource timeout = new(TestHub.Timeout);
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (result.CloseStatus, result.CloseStatusDescription);
            }
        }
    }

    private static async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        using var message = new MemoryStream();
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, cancellationToken);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, message.ToArray());
            }
        }
    }

    internal static async Task<string> ReceiveTextAsync(ClientWebSocket socket)
    {
        using CancellationTokenSource timeout = new(TestHub.Timeout);
        while (true)
        {
            (WebSocketMessageType type, byte[] data) = await ReceiveAsync(socket, timeout.Token);
            if (type == WebSocketMessageType.Text)
            {
                return Encoding.UTF8.GetString(data);
            }
        }
    }

    private static Task SendTextAsync(ClientWebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    internal static async Task<WatchedFrame> ReceiveFrameAsync(ClientWebSocket socket, CancellationToken cancellationToken = default)
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TestHub.Timeout);
        while (true)
        {
            (WebSocketMessageType type, byte[] data) = await ReceiveAsync(socket, timeout.Token);
            if (type == WebSocketMessageType.Binary)
            {
                Assert.True(data.Length > 24, "a frame message is a 24-byte header and a JPEG");
                return new WatchedFrame(
                    BinaryPrimitives.ReadInt64LittleEndian(data),
                    BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(8)),
                    BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(16)),
                    BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(20)),
                    BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(22)),
                    data[24..]);
            }
        }
    }

    private static async Task ReceiveFramesAsync(ClientWebSocket socket, int count)
    {
        for (int i = 0; i < count; i++)
        {
            WatchedFrame frame = await ReceiveFrameAsync(socket);
            Assert.True(JpegStructure.TryValidate(frame.Jpeg, out _, out _, out string? error), error);
        }
    }

    internal static async Task<byte[][]> EncodePatternAsync(int width, int height, int count)
    {
        await using var source = new TestPatternSource(new TestPatternOptions { Width = width, Height = height, Fps = 1000 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg);
        var jpegs = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            using VideoFrame picture = (await source.ReadFrameAsync(CancellationToken.None))!;
            MediaFrame frame = FrameEncoding.Encode(encoder, picture);
            jpegs[i] = frame.Data.ToArray();
            frame.Release();
        }

        return jpegs;
    }

    internal sealed record WatchedFrame(long CaptureMicros, long SendMicros, uint Sequence, int Width, int Height, byte[] Jpeg);
}
