using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using SocketCam.Rooms;
using SocketCam.Tests.Support;
using SocketCam.Web;

namespace SocketCam.Tests.Web.Browser;

/// <summary>
/// The watch page (/rooms/{room}) in real headless Chromium against a real hub and Kestrel: frames over the watch WebSocket
/// drawn on the canvas, the numbers it exposes as window.socketcam, the token, reconnecting, and a room that appears later.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class WatchPageBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private const double SourceFps = 15;

    [Fact]
    public async Task Watch_page_draws_live_frames_of_the_source_size_with_plausible_fps_and_latency()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 320, height: 240, fps: SourceFps);
        await using BrowserPage page = await browser.NewPageAsync();

        IResponse response = await page.GotoAsync($"{server.Url}/rooms/main");
        Assert.Equal(200, response.Status);
        await page.UntilAsync("window.socketcam.framesDrawn > 10", "the watch page drew more than 10 frames");

        // The canvas shows a picture (the test pattern has bars, ramps and text: far from one colour) ...
        int[] first = await CanvasAsync(page);
        Assert.True(first.Max() - first.Min() > 50, $"the canvas is (nearly) one colour: {Describe(first)}");
        // ... and it moves: a later read differs (the pattern scrolls every frame).
        await Eventually.UntilAsync(
            async () => Difference(first, await CanvasAsync(page)) > 0.5,
            "the canvas changes between two reads");

        Assert.Equal(320, await page.EvalAsync<int>("() => window.socketcam.width"));
        Assert.Equal(240, await page.EvalAsync<int>("() => window.socketcam.height"));
        Assert.Equal("live", await page.EvalAsync<string>("() => window.socketcam.state"));

        // Skipped frames in words a viewer understands, with the why in a tooltip (it used to say "dropped 16").
        string skipped = await page.EvalAsync<string>("() => document.getElementById('dropped-text').textContent");
        long dropped = await page.EvalAsync<long>("() => window.socketcam.framesDropped");
        Assert.Equal(dropped == 0 ? "no frames skipped" : $"skipped {dropped} frame{(dropped == 1 ? "" : "s")} to stay live", skipped);
        Assert.Contains("newest", await page.EvalAsync<string>("() => document.getElementById('dropped-text').title"), StringComparison.Ordinal);

        // fps is measured over a window: once it has a value it is above 0 and not more than the source sends.
        await page.UntilAsync("window.socketcam.fps > 0", "the page shows an fps above 0");
        double fps = await page.EvalAsync<double>("() => window.socketcam.fps");
        Assert.True(fps <= 1.5 * SourceFps, $"the page shows {fps} fps for a {SourceFps} fps source. {await page.StateJsonAsync()}");

        // Capture → canvas latency: a finite number, not negative (no upper bound asserted: the machine is shared).
        await page.UntilAsync("typeof window.socketcam.latencyMs === 'number'", "the page measured a latency");
        double latency = await page.EvalAsync<double>("() => window.socketcam.latencyMs");
        Assert.True(double.IsFinite(latency) && latency >= 0, $"latencyMs = {latency}. {await page.StateJsonAsync()}");
        Assert.True(await page.EvalAsync<bool>("() => Array.isArray(window.socketcam.latencies) && window.socketcam.latencies.length > 0"),
            await page.StateJsonAsync());
    }

    [Fact]
    public async Task With_a_token_the_page_needs_it_and_passes_it_on_to_its_WebSocket()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(fps: SourceFps, token: "s3cret");

        // The page holds no secret: it loads, and its WebSocket is refused without the token (the page says why).
        await using (BrowserPage bare = await browser.NewPageAsync())
        {
            IResponse loaded = await bare.GotoAsync($"{server.Url}/rooms/main");
            Assert.Equal(200, loaded.Status);
            await bare.UntilAsync("/token/.test(window.socketcam.reason)", "the page without the token says so");
            Assert.Equal(0, await bare.EvalAsync<int>("() => window.socketcam.framesDrawn"));
        }

        await using (BrowserPage wrong = await browser.NewPageAsync())
        {
            await wrong.GotoAsync($"{server.Url}/rooms/main#token=s3creT");
            await wrong.UntilAsync("/token/.test(window.socketcam.reason)", "the page with a wrong token says so");
        }

        // The fragment's token: kept in the page's cookie, so the WebSocket URL carries none and no request line holds it.
        await using BrowserPage page = await browser.NewPageAsync();
        await page.RecordWebSocketsAsync();
        IResponse allowed = await page.GotoAsync($"{server.Url}/rooms/main#token=s3cret");
        Assert.Equal(200, allowed.Status);
        await page.UntilAsync("window.socketcam.framesDrawn > 5 && window.socketcam.state === 'live'", "the page with the token drew frames");
        IReadOnlyList<WebSocketEvent> sockets = await page.WebSocketLogAsync();
        // (Chromium decodes H.264, so the page asks for it: `?codec=h264` is the socket's only query.)
        Assert.Contains(sockets, e => e.Event == "open" && new Uri(e.Url).AbsolutePath == "/rooms/main/ws" && new Uri(e.Url).Query is "" or "?codec=h264");
        Assert.DoesNotContain(sockets, e => e.Url.Contains("s3cret", StringComparison.Ordinal));
        Assert.Equal($"{server.Url}/#token=s3cret", await page.EvalAsync<string>("() => document.getElementById('home').href"));

        // Older links with ?token= still work.
        await using BrowserPage old = await browser.NewPageAsync();
        await old.GotoAsync($"{server.Url}/rooms/main?token=s3cret");
        await old.UntilAsync("window.socketcam.framesDrawn > 5", "the page with ?token= drew frames");
    }

    [Fact]
    public async Task The_page_reconnects_by_itself_when_the_HTTP_server_comes_back_on_the_same_port()
    {
        await using TestHub hub = TestHub.Start(fps: SourceFps);
        using ILoggerFactory loggers = hub.Logs.CreateFactory();
        HttpServer web = await StartWebAsync(hub, loggers, port: 0);
        int port = web.EndPoint.Port;
        try
        {
            await using BrowserPage page = await browser.NewPageAsync();
            Assert.Equal(200, (await page.GotoAsync($"http://127.0.0.1:{port}/rooms/main")).Status);
            await page.UntilAsync("window.socketcam.framesDrawn > 10 && window.socketcam.state === 'live'", "the page is live");
            await page.EvalAsync<int>("() => window.__sameDocument = 42");

            await web.DisposeAsync().AsTask().WaitAsync(TestHub.Timeout);
            await page.UntilAsync("window.socketcam.state !== 'live'", "the page noticed the server went away");
            long drawnWhileDown = await page.EvalAsync<long>("() => window.socketcam.framesDrawn");

            web = await StartWebAsync(hub, loggers, port);
            await page.UntilAsync(
                $"window.socketcam.state === 'live' && window.socketcam.framesDrawn > {drawnWhileDown.ToString(CultureInfo.InvariantCulture)} + 10",
                "the page is live again and draws new frames");
            // Without a reload: the same document is still there.
            Assert.Equal(42, await page.EvalAsync<int>("() => window.__sameDocument"));
        }
        finally
        {
            await web.DisposeAsync().AsTask().WaitAsync(TestHub.Timeout);
        }
    }

    [Fact]
    public async Task An_unknown_room_shows_why_and_starts_drawing_when_the_room_appears()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        await using BrowserPage page = await browser.NewPageAsync();
        await page.RecordWebSocketsAsync();

        IResponse response = await page.GotoAsync($"{server.Url}/rooms/nosuch");
        Assert.Equal(200, response.Status); // the page itself is served: it waits for the room
        // A room without a publisher is one to wait for, not a failure: no red "disconnected", no raw close text.
        // (Read in one evaluation: the page keeps retrying, and its status line says "connecting" during each retry.)
        await page.UntilAsync(
            "window.socketcam.state === 'waiting' && document.getElementById('overlay').textContent.startsWith('waiting for nosuch to start')"
            + " && document.getElementById('state').textContent === 'waiting for the publisher'",
            "the page says it waits for the room to start, and for its publisher");
        Assert.DoesNotContain("disconnected", await page.EvalAsync<string>("() => document.getElementById('overlay').textContent"), StringComparison.Ordinal);
        IReadOnlyList<WebSocketEvent> sockets = await page.WebSocketLogAsync();
        Assert.Contains(sockets, e => e.Event == "close" && e.Code == 4404 && e.Url.Contains("/rooms/nosuch/ws", StringComparison.Ordinal));
        Assert.Equal(0, await page.EvalAsync<int>("() => window.socketcam.framesDrawn"));

        server.Hub.StartCapture("nosuch", width: 320, height: 240, fps: SourceFps);
        await page.UntilAsync(
            "window.socketcam.state === 'live' && window.socketcam.framesDrawn > 5 && window.socketcam.width === 320",
            "the page draws the room once it exists (no reload)");
    }

    [Fact]
    public async Task A_room_that_exists_without_a_publisher_says_it_waits_for_it_and_draws_once_it_starts()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        // Someone watches "empty" (a viewer makes the room), nobody publishes to it yet.
        Room empty = server.Hub.Server.GetOrCreateRoom("empty");
        try
        {
            await using BrowserPage page = await browser.NewPageAsync();
            await page.GotoAsync($"{server.Url}/rooms/empty");
            await page.UntilAsync(
                "window.socketcam.state === 'waiting' && document.getElementById('overlay').textContent === 'waiting for empty to start'",
                "the page says it waits for the room to start");

            server.Hub.StartCapture("empty", width: 320, height: 240, fps: SourceFps);
            await page.UntilAsync(
                "window.socketcam.state === 'live' && window.socketcam.framesDrawn > 5 && document.getElementById('overlay').hidden",
                "the page draws the room once its publisher starts");
        }
        finally
        {
            server.Hub.Server.LeaveRoom(empty);
        }
    }

    /// <summary>Starts the HTTP server for the hub on the port (0: any), retrying the bind while the old listener still holds it.</summary>
    internal static async Task<HttpServer> StartWebAsync(TestHub hub, ILoggerFactory loggers, int port)
    {
        // The old listener's port may take a moment to be free again: retry the bind, never sleep a fixed time.
        HttpServer? started = null;
        IOException? last = null;
        try
        {
            await Eventually.UntilAsync(
                async () =>
                {
                    var web = new HttpServer(hub.Server, new HttpOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, port) }, loggers);
                    try
                    {
                        await web.StartAsync(CancellationToken.None);
                        started = web;
                        return true;
                    }
                    catch (IOException ex)
                    {
                        last = ex;
                        await web.DisposeAsync();
                        return false;
                    }
                },
                $"the HTTP server binds 127.0.0.1:{port}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}: {last?.Message}", ex);
        }

        return started!;
    }

    private static async Task<int[]> CanvasAsync(BrowserPage page) =>
        await page.SampleAsync("#video") ?? throw new InvalidOperationException($"#video has no size. {await page.StateJsonAsync()}");

    /// <summary>Mean absolute luma difference of two samples.</summary>
    internal static double Difference(int[] a, int[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Average();

    internal static string Describe(int[] luma) => JsonSerializer.Serialize(luma);
}
