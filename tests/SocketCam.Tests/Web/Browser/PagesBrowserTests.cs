using System.Text.Json;
using Microsoft.Playwright;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Web.Browser;

/// <summary>
/// The publish page (Chromium's fake camera → publish WebSocket → the hub, read back by the real CLI and by a watch
/// page), the index page, and the MJPEG stream in a plain &lt;img&gt;, in real headless Chromium.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class PagesBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>, IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-browser-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task The_publish_page_sends_the_fake_camera_at_the_chosen_size_to_the_CLI_and_to_a_watch_page()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        await using BrowserPage publisher = await browser.NewPageAsync();

        IResponse response = await publisher.GotoAsync($"{server.Url}/rooms/cam1/publish");
        Assert.Equal(200, response.Status);
        await ChooseSizeAsync(publisher, "320x240");
        await publisher.Page.ClickAsync("#start");
        await publisher.UntilAsync("window.socketcam.state === 'live' && window.socketcam.framesSent > 5", "the publish page is live and sent frames");
        Assert.Equal(320, await publisher.EvalAsync<int>("() => window.socketcam.width"));
        Assert.Equal(240, await publisher.EvalAsync<int>("() => window.socketcam.height"));

        // A native viewer (the real CLI over TCP) gets the browser's frames at that size.
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout,
            "view", server.Hub.Url, "--room", "cam1", "--frames", "10", "--json", "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{view.Transcript()}{Environment.NewLine}{publisher.Transcript()}");
            JsonElement json = view.LastJsonLine();
            Assert.True(json.GetProperty("frames").GetInt64() >= 10, view.Transcript());
            Assert.Equal(320, json.GetProperty("width").GetInt32());
            Assert.Equal(240, json.GetProperty("height").GetInt32());
            Assert.Equal("jpeg", json.GetProperty("codec").GetString());
        }

        // And so does a watch page in another browser context.
        await using BrowserPage watcher = await browser.NewPageAsync();
        await watcher.GotoAsync($"{server.Url}/rooms/cam1");
        await watcher.UntilAsync(
            "window.socketcam.framesDrawn > 5 && window.socketcam.width === 320 && window.socketcam.height === 240",
            "the watch page draws the browser-published frames at 320x240");
        int[]? picture = await watcher.SampleAsync("#video");
        Assert.True(picture is not null && picture.Max() - picture.Min() > 20,
            $"the watch page's canvas is (nearly) one colour: {(picture is null ? "no size" : WatchPageBrowserTests.Describe(picture))}");
        Assert.True(await publisher.EvalAsync<long>("() => window.socketcam.bytesSent") > 0, await publisher.StateJsonAsync());
    }

    [Fact]
    public async Task The_index_page_lists_the_rooms_with_a_loaded_thumbnail_and_links_that_work()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 320, height: 240, fps: 10);
        server.Hub.StartCapture("lobby", width: 160, height: 120, fps: 10);
        await using BrowserPage page = await browser.NewPageAsync();

        IResponse response = await page.GotoAsync($"{server.Url}/");
        Assert.Equal(200, response.Status);
        await page.UntilAsync(
            "document.querySelector('article.room[data-room=\"main\"]') && document.querySelector('article.room[data-room=\"lobby\"]')",
            "the index lists rooms main and lobby");
        await page.UntilAsync(
            "document.querySelector('article.room[data-room=\"main\"] img.thumb')?.naturalWidth === 320",
            "main's thumbnail loaded (a 320 pixel wide snapshot)");
        await page.UntilAsync(
            "document.querySelector('article.room[data-room=\"lobby\"] img.thumb')?.naturalWidth === 160",
            "lobby's thumbnail loaded (a 160 pixel wide snapshot)");

        string[] paths = await page.EvalAsync<string[]>(
            "() => [...document.querySelectorAll('article.room[data-room=\"main\"] a[href]')].map(a => new URL(a.href).pathname)");
        Assert.Contains("/rooms/main", paths);
        Assert.Contains("/rooms/main/publish", paths);

        // Viewers by kind, in words: a watch page open elsewhere is "1 watching in a browser" (the API's name, "websocket",
        // only in the tooltip).
        await page.UntilAsync(
            "document.querySelector('article.room[data-room=\"main\"] .viewers')?.textContent === 'nobody watching'",
            "the index says nobody watches main");
        await using (BrowserPage watcher = await browser.NewPageAsync())
        {
            await watcher.GotoAsync($"{server.Url}/rooms/main");
            await watcher.UntilAsync("window.socketcam.framesDrawn > 0", "the other watch page draws");
            await page.UntilAsync(
                "document.querySelector('article.room[data-room=\"main\"] .viewers')?.textContent === '1 watching in a browser'",
                "the index says one browser watches main");
            Assert.Contains("websocket 1", await page.EvalAsync<string>(
                "() => document.querySelector('article.room[data-room=\"main\"] .viewers').title"), StringComparison.Ordinal);
        }

        // The watch link opens a watch page that draws.
        await page.Page.ClickAsync("article.room[data-room=\"main\"] a[href$=\"/rooms/main\"]");
        await page.Page.WaitForURLAsync($"{server.Url}/rooms/main");
        await page.UntilAsync("window.socketcam?.framesDrawn > 3", "the linked watch page draws frames");
    }

    [Fact]
    public async Task An_img_of_stream_mjpg_shows_the_live_stream_at_the_source_size()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(width: 320, height: 240, fps: 15);
        await using BrowserPage page = await browser.NewPageAsync();

        // Same origin as the stream, so the test may read the picture's pixels.
        await page.GotoAsync($"{server.Url}/healthz");
        await page.Page.SetContentAsync($"<img id=\"mjpeg\" src=\"{server.Url}/stream.mjpg\">");

        await page.UntilAsync(
            "document.querySelector('#mjpeg').naturalWidth === 320 && document.querySelector('#mjpeg').naturalHeight === 240",
            "the <img> shows a 320x240 picture");
        int[] first = await page.SampleAsync("#mjpeg") ?? throw new InvalidOperationException("the <img> has no size");
        Assert.True(first.Max() - first.Min() > 50, $"the <img> is (nearly) one colour: {WatchPageBrowserTests.Describe(first)}");
        // Every part is painted as it arrives: the picture keeps changing.
        await Eventually.UntilAsync(
            async () => WatchPageBrowserTests.Difference(first, await page.SampleAsync("#mjpeg") ?? first) > 0.5,
            "the <img> changes (the stream's later parts are painted)");
        Assert.Equal(1, server.Web.MjpegClientCount);
    }

    /// <summary>Sets the publish page's #size control, a &lt;select&gt; (by value or label) or a text input.</summary>
    private static async Task ChooseSizeAsync(BrowserPage page, string size)
    {
        string tag = await page.EvalAsync<string>("() => document.querySelector('#size')?.tagName ?? 'missing'");
        if (tag == "SELECT")
        {
            string? value = await page.EvalAsync<string?>(
                "(size) => { const [w, h] = size.split('x'); const o = [...document.querySelector('#size').options].find(o => o.value === size || new RegExp(`\\\\b${w}\\\\D+${h}\\\\b`).test(o.value + ' ' + o.text)); return o ? o.value : null; }",
                size);
            Assert.True(value is not null, $"#size has no option {size}: {await page.EvalAsync<string>("() => document.querySelector('#size').outerHTML")}");
            await page.Page.SelectOptionAsync("#size", value);
        }
        else
        {
            Assert.True(tag == "INPUT", $"#size is {tag}, not a select or an input");
            await page.Page.FillAsync("#size", size);
            await page.Page.DispatchEventAsync("#size", "change");
        }
    }
}
