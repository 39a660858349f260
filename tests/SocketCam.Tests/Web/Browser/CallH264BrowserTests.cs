using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.Playwright;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Tests.Support;
using Xunit.Abstractions;

namespace SocketCam.Tests.Web.Browser;

/// <summary>
/// H.264 on the call page (issue 19, the browsers' half) in real headless Chromium against a real hub and Kestrel: the
/// camera is encoded with WebCodecs' VideoEncoder and published as codec 3, the others' tracks are decoded with
/// VideoDecoder; a page without WebCodecs publishes JPEG and says in words that it cannot show the others' H.264.
/// Debian's Chromium encodes (OpenH264) and decodes H.264 in software; the first test fails, saying so, where it does not.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class CallH264BrowserTests(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    /// <summary>An init script that takes WebCodecs' video classes away, as a browser without them would be.</summary>
    private const string NoWebCodecs = "delete window.VideoEncoder; delete window.VideoDecoder; delete window.EncodedVideoChunk;";

    [Fact]
    public async Task Two_Chromium_call_pages_see_each_other_in_H264_and_the_hub_has_their_cameras_as_codec_3()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        await using BrowserPage ada = await browser.NewPageAsync();
        await using BrowserPage bob = await browser.NewPageAsync();
        uint adaId = await CallPage.JoinAsync(ada, server.Url, "Ada", room: "h264");
        string support = await ada.EvalAsync<string>("() => JSON.stringify(window.socketcamVideoStats().publish)");
        Assert.True(support.Contains("\"codec\":\"h264\"", StringComparison.Ordinal), $"this Chromium cannot encode H.264 with WebCodecs: {support}");
        uint bobId = await CallPage.JoinAsync(bob, server.Url, "Bob", room: "h264");

        foreach ((BrowserPage page, uint other) in new[] { (ada, bobId), (bob, adaId) })
        {
            string tile = $"window.socketcamVideoStats().tracks.find(t => t.participantId === {other} && !t.screen)";
            await page.UntilAsync($"{tile}?.codec === 'h264' && {tile}.framesDecoded > 5", $"the page decodes participant {other}'s H.264");
            JsonElement stats = await VideoStatsAsync(page);
            output.WriteLine(stats.ToString());
            JsonElement track = stats.GetProperty("tracks").EnumerateArray().Single(t => t.GetProperty("participantId").GetUInt32() == other);
            Assert.Equal(0, track.GetProperty("decodeErrors").GetInt32());
            Assert.True(track.GetProperty("framesDrawn").GetInt32() > 5, track.ToString());
            Assert.True(track.GetProperty("latency").GetProperty("samples").GetInt32() > 0, track.ToString());

            // The publisher answered the hub's keyframe request for its new subscriber (KEYFRAME_REQUEST 0x13, reason 1).
            JsonElement publish = stats.GetProperty("publish");
            Assert.Equal("h264", publish.GetProperty("codec").GetString());
            Assert.True(publish.GetProperty("keyframeRequests").GetInt32() >= 1, publish.ToString());
            Assert.True(publish.GetProperty("keyframesSent").GetInt32() >= 1, publish.ToString());
            Assert.Equal(0, publish.GetProperty("encodeErrors").GetInt32());

            // Chromium's fake camera moves: the tile's canvas shows that, so the pictures are decoded ones.
            string canvas = $".tile[data-participant=\"{other}\"]:not(.screen) canvas";
            int[] first = await page.SampleAsync(canvas) ?? throw new InvalidOperationException($"{canvas} has no size");
            Assert.True(first.Max() - first.Min() > 20, $"{canvas} is (nearly) one colour");
            await Eventually.UntilAsync(async () => WatchPageBrowserTests.Difference(first, await page.SampleAsync(canvas) ?? first) > 0.5, $"{canvas} changes");
        }

        // The hub has both cameras as H.264 tracks (codec 3), with the nominal size and a bitrate.
        TrackRecord[] tracks = server.Hub.Server.Rooms.Single(r => r.Name == "h264").DescribeAll().Tracks;
        foreach (uint id in new[] { adaId, bobId })
        {
            TrackDescription camera = tracks.Single(t => t.ParticipantId == id && t.Description.Kind == TrackKind.Video).Description;
            Assert.Equal(CodecId.H264, camera.Codec);
            Assert.Equal((ushort)320, camera.A);
            Assert.Equal((ushort)180, camera.B);
            Assert.True(camera.Bitrate > 0, camera.ToString());
        }
    }

    [Fact]
    public async Task A_Chromium_call_page_and_a_native_call_see_each_other_in_H264()
    {
        string directory = Directory.CreateTempSubdirectory("socketcam-call-h264-").FullName;
        try
        {
            await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
            await using BrowserPage ada = await browser.NewPageAsync();
            uint adaId = await CallPage.JoinAsync(ada, server.Url, "Ada", room: "mixed");

            // The native participant: libx264 out, libavcodec in, its call window on a real X server.
            await using XvfbDisplay x = await XvfbDisplay.StartAsync(1024, 640);
            await using CliProcess native = CliProcess.StartWithEnvironment(directory, x.Environment, "call", $"{server.Hub.Url}/mixed", "--name", "Native",
                "--codec", "h264", "--source", "pattern", "--size", "320x180", "--fps", "15", "--audio", "none", "--json", "--quiet");
            string window = await x.FindWindowAsync("SocketCam call", native);

            // The page decodes the native participant's H.264 ...
            TrackRecord? NativeTrack() => server.Hub.Server.Rooms.Single(r => r.Name == "mixed").DescribeAll().Tracks.FirstOrDefault(t => t.ParticipantId != adaId && t.Description.Kind == TrackKind.Video);
            await Eventually.UntilAsync(() => NativeTrack() is not null, "the native participant's camera track", TestHub.Timeout);
            TrackRecord nativeTrack = NativeTrack()!;
            Assert.Equal(CodecId.H264, nativeTrack.Description.Codec);
            string tile = $"window.socketcamVideoStats().tracks.find(t => t.participantId === {nativeTrack.ParticipantId} && !t.screen)";
            await ada.UntilAsync($"{tile}?.codec === 'h264' && {tile}.framesDecoded > 5", "the page decodes the native call's H.264");
            JsonElement track = (await VideoStatsAsync(ada)).GetProperty("tracks").EnumerateArray().Single(t => t.GetProperty("participantId").GetUInt32() == nativeTrack.ParticipantId);
            Assert.Equal(0, track.GetProperty("decodeErrors").GetInt32());

            // ... and the native window shows the page's H.264 camera as a picture in its one tile.
            TrackDescription adaCamera = server.Hub.Server.Rooms.Single(r => r.Name == "mixed").DescribeAll().Tracks.Single(t => t.ParticipantId == adaId && t.Description.Kind == TrackKind.Video).Description;
            Assert.Equal(CodecId.H264, adaCamera.Codec);
            (int width, int height) = await x.WindowSizeAsync(window);
            SocketCam.Display.PixelRect only = SocketCam.Display.CallGridLayout.Compute(1, width, height)[0];
            await Eventually.UntilAsync(async () => SocketCam.Tests.Display.CallWindowCliTests.ShowsPicture(await x.ScreenshotAsync(window), only),
                $"the native window shows Ada's picture{Environment.NewLine}{native.Transcript()}", TestHub.Timeout);
            await native.InterruptAsync();
            Assert.Equal(0, await native.WaitForExitAsync(TestHub.Timeout));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Frames_lost_on_the_way_make_the_page_ask_for_a_keyframe_and_its_picture_comes_back_without_decode_errors()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        await using BrowserPage ada = await browser.NewPageAsync();
        await using BrowserPage bob = await browser.NewPageAsync();

        // Bob's v2 WebSocket goes through Playwright, which loses the next `toDrop` H.264 frames that are not keyframes
        // (FRAME 0x12: kind at 14, codec at 15, frame_flags at 16), as a broken path would.
        int toDrop = 0;
        int dropped = 0;
        await bob.Page.RouteWebSocketAsync("**/v2/ws", ws =>
        {
            IWebSocketRoute hub = ws.ConnectToServer();
            hub.OnMessage(message =>
            {
                byte[]? data = message.Binary;
                if (data is null)
                {
                    ws.Send(message.Text ?? "");
                    return;
                }

                bool h264Delta = data.Length > 40 && data[0] == 0x12 && data[14] == 1 && data[15] == (byte)CodecId.H264 && (data[16] & 1) == 0;
                if (h264Delta && Volatile.Read(ref toDrop) > 0)
                {
                    Interlocked.Decrement(ref toDrop);
                    Interlocked.Increment(ref dropped);
                    return;
                }

                ws.Send(data);
            });
        });

        uint adaId = await CallPage.JoinAsync(ada, server.Url, "Ada", room: "lossy");
        await CallPage.JoinAsync(bob, server.Url, "Bob", room: "lossy");
        string tile = $"window.socketcamVideoStats().tracks.find(t => t.participantId === {adaId})";
        await bob.UntilAsync($"{tile}?.codec === 'h264' && {tile}.framesDecoded > 5", "Bob decodes Ada's H.264");
        int requestsBefore = await bob.EvalAsync<int>($"() => {tile}.keyframeRequestsSent");

        Volatile.Write(ref toDrop, 3);
        await Eventually.UntilAsync(() => Volatile.Read(ref dropped) == 3, "three of Ada's frames were lost on the way to Bob");
        await bob.UntilAsync($"{tile}.gaps >= 1 && {tile}.resets >= 1 && {tile}.keyframeRequestsSent > {requestsBefore}", "Bob saw the gap, dropped his decoder and asked for a keyframe");
        int decoded = await bob.EvalAsync<int>($"() => {tile}.framesDecoded");
        await bob.UntilAsync($"{tile}.framesDecoded > {decoded + 10}", "Bob's picture of Ada comes back");

        JsonElement track = (await VideoStatsAsync(bob)).GetProperty("tracks").EnumerateArray().Single(t => t.GetProperty("participantId").GetUInt32() == adaId);
        output.WriteLine(track.ToString());
        Assert.Equal(0, track.GetProperty("decodeErrors").GetInt32());
        Assert.True(track.GetProperty("skipped").GetInt32() >= 1, track.ToString()); // frames after the gap waited for the keyframe
    }

    [Fact]
    public async Task A_page_without_WebCodecs_publishes_JPEG_and_says_it_cannot_decode_the_others_H264()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        await using BrowserPage modern = await browser.NewPageAsync();
        await using BrowserPage old = await browser.NewPageAsync();
        await old.Page.AddInitScriptAsync(NoWebCodecs);
        uint modernId = await CallPage.JoinAsync(modern, server.Url, "Modern", room: "mixed");
        uint oldId = await CallPage.JoinAsync(old, server.Url, "Old", room: "mixed");

        // The old page sends JPEG, and the modern page draws it as JPEG.
        JsonElement oldPublish = (await VideoStatsAsync(old)).GetProperty("publish");
        Assert.Equal("jpeg", oldPublish.GetProperty("codec").GetString());
        Assert.False(oldPublish.GetProperty("canDecodeH264").GetBoolean());
        string oldTile = $"window.socketcamVideoStats().tracks.find(t => t.participantId === {oldId})";
        await modern.UntilAsync($"{oldTile}?.codec === 'jpeg' && {oldTile}.framesDrawn > 3", "the modern page draws the old page's JPEG");

        // The old page cannot show the modern one's H.264: its tile says so, in words, and draws nothing.
        await old.UntilAsync($"window.socketcam.tiles[{modernId}] !== undefined", "the old page has a tile for the modern one");
        string note = await old.Page.Locator($".tile[data-participant=\"{modernId}\"] .tile-note").InnerTextAsync();
        Assert.Equal("This browser cannot decode H.264 video.", note);
        Assert.True(await old.Page.IsVisibleAsync($".tile[data-participant=\"{modernId}\"] .tile-note"));
        Assert.Equal(0, await old.EvalAsync<int>($"() => window.socketcam.tiles[{modernId}]"));

        TrackRecord[] tracks = server.Hub.Server.Rooms.Single(r => r.Name == "mixed").DescribeAll().Tracks;
        Assert.Equal(CodecId.Jpeg, tracks.Single(t => t.ParticipantId == oldId && t.Description.Kind == TrackKind.Video).Description.Codec);
        Assert.Equal(CodecId.H264, tracks.Single(t => t.ParticipantId == modernId && t.Description.Kind == TrackKind.Video).Description.Codec);
        Assert.Equal(0, await old.EvalAsync<int>("() => window.socketcamVideoStats().tracks.filter(t => t.decodeErrors > 0).length"));
    }

    /// <summary>
    /// The watch page's half: where WebCodecs decodes H.264 it opens its WebSocket with `?codec=h264` and decodes what
    /// comes with the 28-byte header (docs/HTTP.md). The room only feeds such viewers H.264 once the hub's H.264 wiring
    /// is in, so here the socket is Playwright's: it answers with a hello that says `jpeg,h264` and 30 access units that
    /// Chromium's own VideoEncoder made (a keyframe with SPS/PPS first, then P-frames), as the hub would send them.
    /// </summary>
    [Fact]
    public async Task The_watch_page_asks_for_H264_and_draws_what_a_socket_sends_it_in_H264()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        await using BrowserPage helper = await browser.NewPageAsync();
        await helper.GotoAsync($"{server.Url}/healthz");
        string encoded = await helper.EvalAsync<string>(
            """
            async () => {
              const canvas = new OffscreenCanvas(320, 180);
              const g = canvas.getContext('2d');
              const chunks = [];
              let failure = null;
              const encoder = new VideoEncoder({
                output: (c) => { const b = new Uint8Array(c.byteLength); c.copyTo(b); chunks.push({ key: c.type === 'key', data: btoa(String.fromCharCode(...b)) }); },
                error: (e) => { failure = String(e); },
              });
              encoder.configure({ codec: 'avc1.42e01e', width: 320, height: 180, framerate: 10, bitrate: 300000, latencyMode: 'realtime', avc: { format: 'annexb' } });
              for (let i = 0; i < 30; i++) {
                g.fillStyle = `hsl(${i * 12}, 80%, 45%)`; g.fillRect(0, 0, 320, 180);
                g.fillStyle = '#fff'; g.fillRect(i * 9, 60, 40, 60);
                const frame = new VideoFrame(canvas, { timestamp: i * 100000 });
                encoder.encode(frame, { keyFrame: i === 0 });
                frame.close();
              }
              await encoder.flush();
              return JSON.stringify({ failure, chunks });
            }
            """);
        using JsonDocument made = JsonDocument.Parse(encoded);
        Assert.Equal(JsonValueKind.Null, made.RootElement.GetProperty("failure").ValueKind);
        (bool Key, byte[] Data)[] units = [.. made.RootElement.GetProperty("chunks").EnumerateArray().Select(c => (c.GetProperty("key").GetBoolean(), Convert.FromBase64String(c.GetProperty("data").GetString()!)))];
        Assert.Equal(30, units.Length);
        Assert.True(units[0].Key);

        await using BrowserPage watch = await browser.NewPageAsync();
        var opened = new TaskCompletionSource<IWebSocketRoute>(TaskCreationOptions.RunContinuationsAsynchronously);
        await watch.Page.RouteWebSocketAsync("**/rooms/tv/ws**", ws =>
        {
            ws.OnMessage(_ => { }); // the page's pings and stats: nobody answers
            opened.TrySetResult(ws);
        });
        await watch.GotoAsync($"{server.Url}/rooms/tv");
        IWebSocketRoute socket = await opened.Task.WaitAsync(TestHub.Timeout);
        Assert.EndsWith("/rooms/tv/ws?codec=h264", socket.Url, StringComparison.Ordinal);

        long serverTime = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        socket.Send($$"""{"type":"hello","room":"tv","serverTime":{{serverTime}},"publishing":true,"codecs":"jpeg,h264"}""");
        for (int i = 0; i < units.Length; i++)
        {
            byte[] message = new byte[28 + units[i].Data.Length];
            long nowUs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
            BinaryPrimitives.WriteInt64LittleEndian(message, nowUs);
            BinaryPrimitives.WriteInt64LittleEndian(message.AsSpan(8), nowUs);
            BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(16), (uint)(i + 1));
            BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(20), 320);
            BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(22), 180);
            message[24] = (byte)CodecId.H264;
            message[25] = units[i].Key ? (byte)1 : (byte)0;
            units[i].Data.CopyTo(message, 28);
            socket.Send(message);
            await Task.Delay(30);
        }

        await watch.UntilAsync("window.socketcam.codec === 'h264' && window.socketcam.framesDrawn === 30", "the watch page drew all 30 H.264 frames");
        Assert.Equal(0, await watch.EvalAsync<int>("() => window.socketcam.h264.decodeErrors"));
        Assert.Equal(320, await watch.EvalAsync<int>("() => window.socketcam.width"));
        Assert.Equal(180, await watch.EvalAsync<int>("() => window.socketcam.height"));
        int[] picture = await watch.SampleAsync("#video") ?? throw new InvalidOperationException("the canvas has no size");
        Assert.True(picture.Max() - picture.Min() > 50, "the canvas shows the picture (a white bar on colour)");
    }

    private static async Task<JsonElement> VideoStatsAsync(BrowserPage page) =>
        JsonDocument.Parse(await page.EvalAsync<string>("() => JSON.stringify(window.socketcamVideoStats())")).RootElement;
}
