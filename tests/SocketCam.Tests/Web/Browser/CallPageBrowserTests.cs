using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using SocketCam.Chat;
using SocketCam.Client;
using SocketCam.Hub;
using SocketCam.Tests.Rooms;
using SocketCam.Tests.Support;
using SocketCam.Web;
using Xunit.Abstractions;

namespace SocketCam.Tests.Web.Browser;

/// <summary>
/// The call page (/call/{room}) in real headless Chromium (separate browser contexts, each with the fake camera) against a
/// real hub with a chat store and Kestrel: everyone sees everyone, chat in one order everywhere, hostile names and texts
/// stay text, reconnecting resumes the chat exactly, the hub's chat refusals, and the phone layout.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class CallPageBrowserTests(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>, IDisposable
{
    /// <summary>Small and slow enough for three browsers on a shared 2-core machine; the page's defaults are 640x360 at 20 fps.</summary>
    private const string LightVideo = CallPage.LightVideo;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-call-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task CallPage_three_participants_and_a_native_one_see_each_other_chat_in_one_order_and_a_leaver_disappears()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);
        await using BrowserPage alice = await browser.NewPageAsync();
        await using BrowserPage bob = await browser.NewPageAsync();
        await using BrowserPage carol = await browser.NewPageAsync();
        BrowserPage[] pages = [alice, bob, carol];
        uint[] ids = [await CallPage.JoinAsync(alice, server.Url, "Alice"), await CallPage.JoinAsync(bob, server.Url, "Bob"), await CallPage.JoinAsync(carol, server.Url, "Carol")];

        // The fourth is the real CLI: `socketcam call --no-window` over TCP, its test pattern as its camera, chat on stdin.
        await using CliProcess native = CliProcess.Start(_directory, "call", $"{server.Hub.Url}/call", "--name", "Native", "--no-window", "--json",
            "--source", "pattern", "--size", "320x180", "--fps", "10", "--quiet");
        await Eventually.UntilAsync(() => NativeLines(native, "joined").Any(l => l.GetProperty("name").GetString() == "you"), $"the native participant joined{Environment.NewLine}{native.Transcript()}", TestHub.Timeout);
        uint nativeId = NativeLines(native, "joined").First().GetProperty("participant").GetUInt32();
        uint[] everyone = [.. ids, nativeId];

        // Each page sees the other three: a tile per participant whose canvas is drawn and changes.
        for (int i = 0; i < pages.Length; i++)
        {
            await pages[i].UntilAsync("window.socketcam.participants.length === 4", "four participants in the list");
            foreach (uint other in everyone.Where(id => id != ids[i]))
            {
                await pages[i].UntilAsync($"window.socketcam.tiles[{other}] > 3", $"page {i} draws {other}'s camera");
                await AssertMovingAsync(pages[i], TileCanvas(other));
            }

            Assert.Equal(3, await pages[i].EvalAsync<int>("() => document.querySelectorAll('#grid .tile').length"));
        }

        // One message from each of the four, sent at once: every page and the CLI show all four in the same chat_seq order.
        await Task.WhenAll([.. pages.Select((p, i) => SendChatAsync(p, $"hello from {i}")), native.WriteLineAsync("hello from the terminal")]);
        foreach (BrowserPage page in pages)
        {
            await page.UntilAsync("window.socketcam.chat.length === 4", "four chat messages shown");
        }

        await Eventually.UntilAsync(() => NativeLines(native, "chat").Count == 4, $"four chat lines on the terminal{Environment.NewLine}{native.Transcript()}", TestHub.Timeout);
        string[] orders = await Task.WhenAll(pages.Select(p => p.EvalAsync<string>("() => JSON.stringify(window.socketcam.chat.map(m => [m.seq, m.name, m.text]))")));
        Assert.All(orders, o => Assert.Equal(orders[0], o));
        string nativeOrder = JsonSerializer.Serialize(NativeLines(native, "chat").Select(l => new object[] { l.GetProperty("seq").GetInt64(), l.GetProperty("name").GetString()!, l.GetProperty("text").GetString()! }));
        Assert.Equal(orders[0], nativeOrder);
        long[] seqs = await alice.EvalAsync<long[]>("() => window.socketcam.chat.map(m => m.seq)");
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(4, seqs.Distinct().Count());

        // Carol leaves: she disappears from the others' grids and lists, with a notice, and the terminal says so.
        await carol.Page.ClickAsync("#leave");
        await carol.UntilAsync("window.socketcam.state === 'left'", "Carol's page says she left");
        Assert.True(await carol.Page.IsVisibleAsync("#rejoin"));
        foreach (BrowserPage page in new[] { alice, bob })
        {
            await page.UntilAsync(
                $"window.socketcam.participants.length === 3 && !document.querySelector('[data-participant=\"{ids[2]}\"]')",
                "Carol is gone from the grid and the list");
            Assert.Contains("Carol left", await page.EvalAsync<string[]>("() => window.socketcam.notices"));
            Assert.Equal(2, await page.EvalAsync<int>("() => document.querySelectorAll('#grid .tile').length"));
        }

        await Eventually.UntilAsync(() => NativeLines(native, "left").Any(l => l.GetProperty("name").GetString() == "Carol"), "the terminal says Carol left", TestHub.Timeout);

        // And she can come back.
        await carol.Page.ClickAsync("#rejoin");
        await carol.UntilAsync("window.socketcam.state === 'live' && window.socketcam.participants.length === 4", "Carol rejoined");
        await alice.UntilAsync("window.socketcam.participants.length === 4", "Alice sees Carol again");

        // The native participant received every browser's camera.
        await native.InterruptAsync();
        Assert.Equal(0, await native.WaitForExitAsync(TestHub.Timeout));
        JsonElement summary = native.LastJsonLine();
        foreach (string name in new[] { "Alice", "Bob", "Carol" })
        {
            Assert.True(summary.GetProperty("participants").EnumerateArray().Where(p => p.GetProperty("name").GetString() == name).Sum(p => p.GetProperty("frames").GetInt64()) > 3, native.Transcript());
        }
    }

    private static List<JsonElement> NativeLines(CliProcess native, string type) =>
        [.. native.Stdout.Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).Where(j => j.GetProperty("type").GetString() == type)];

    [Fact]
    public async Task CallPage_a_script_message_and_an_img_name_render_as_literal_text()
    {
        const string HostileName = "<img src=x onerror=\"window.__pwned=1\">";
        const string HostileText = "<script>window.__pwned2=1</script><img src=y onerror=\"window.__pwned3=1\"><b>bold</b>";
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);
        await using BrowserPage mallory = await browser.NewPageAsync();
        await using BrowserPage victim = await browser.NewPageAsync();
        await CallPage.JoinAsync(victim, server.Url, "Victim");
        uint malloryId = await CallPage.JoinAsync(mallory, server.Url, HostileName);

        await SendChatAsync(mallory, HostileText);
        foreach (BrowserPage page in new[] { victim, mallory })
        {
            await page.UntilAsync("window.socketcam.chat.length === 1", "the message is shown");
            Assert.Equal(HostileText, await page.EvalAsync<string>("() => document.querySelector('#chat-log .msg:last-child .text').textContent"));
            Assert.Equal(HostileText, await page.EvalAsync<string>("() => window.socketcam.chat[0].text"));
            Assert.Equal(0, await page.EvalAsync<int>("() => document.querySelectorAll('#call-screen img, #call-screen script, #call-screen b').length"));
        }

        Assert.Equal(HostileName, await victim.EvalAsync<string>($"() => document.querySelector('.tile[data-participant=\"{malloryId}\"] .name').textContent"));
        Assert.Equal(HostileName, await victim.EvalAsync<string>($"() => document.querySelector('#people [data-participant=\"{malloryId}\"] .name').textContent"));
        Assert.Equal(HostileName, await victim.EvalAsync<string>("() => document.querySelector('#chat-log .msg .who').textContent"));
        Assert.Contains($"{HostileName} joined", await victim.EvalAsync<string[]>("() => window.socketcam.notices"));
        Assert.EndsWith($"{HostileName} joined", await victim.EvalAsync<string>("() => document.querySelector('#activity li').textContent"), StringComparison.Ordinal);
        foreach (BrowserPage page in new[] { victim, mallory })
        {
            Assert.Equal("undefined", await page.EvalAsync<string>("() => typeof window.__pwned + typeof window.__pwned2 + typeof window.__pwned3 === 'undefinedundefinedundefined' ? 'undefined' : 'set'"));
        }
    }

    [Fact]
    public async Task CallPage_reconnects_by_itself_and_its_chat_resumes_with_nothing_missed_or_twice()
    {
        await using TestHub hub = TestHub.Start(options: new HubOptions { Chat = new ChatOptions { Directory = _directory } }, captureRoom: null);
        using ILoggerFactory loggers = hub.Logs.CreateFactory();
        HttpServer web = await WatchPageBrowserTests.StartWebAsync(hub, loggers, port: 0);
        int port = web.EndPoint.Port;
        string url = $"http://127.0.0.1:{port}";
        try
        {
            await using RoomSession native = await RoomSession.JoinAsync(hub, "Native", room: "call", chat: new ChatChannel());
            await using BrowserPage alice = await browser.NewPageAsync();
            await using BrowserPage bob = await browser.NewPageAsync();
            await CallPage.JoinAsync(alice, url, "Alice");
            await CallPage.JoinAsync(bob, url, "Bob");
            await SendChatAsync(alice, "before the drop");
            await native.WaitForChatAsync(1);
            await bob.UntilAsync("window.socketcam.chat.length === 1", "Bob sees the first message");

            // The HTTP server goes away (the hub and its chat store stay): both pages show that they are reconnecting.
            await web.DisposeAsync().AsTask().WaitAsync(TestHub.Timeout);
            foreach (BrowserPage page in new[] { alice, bob })
            {
                await page.UntilAsync("window.socketcam.state === 'reconnecting' && !document.getElementById('banner').hidden", "the page shows Reconnecting…");
            }

            Assert.Equal("Reconnecting…", await alice.EvalAsync<string>("() => document.getElementById('banner').textContent"));

            // While they are away: the native participant talks, and Alice writes a message that cannot go yet.
            await native.Client.PingAsync(CancellationToken.None);
            Assert.Equal(0, (int)(await native.Client.SendChatAsync("while you were away 1", CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
            Assert.Equal(0, (int)(await native.Client.SendChatAsync("while you were away 2", CancellationToken.None).WaitAsync(TestHub.Timeout)).Code);
            await SendChatAsync(alice, "written while disconnected");

            web = await WatchPageBrowserTests.StartWebAsync(hub, loggers, port);
            string[] expected = ["before the drop", "while you were away 1", "while you were away 2", "written while disconnected"];
            foreach (BrowserPage page in new[] { alice, bob })
            {
                await page.UntilAsync("window.socketcam.state === 'live' && window.socketcam.chat.length >= 4", "the page is live again with the chat caught up");
                await page.UntilAsync("document.getElementById('banner').hidden", "the banner is gone");
                Assert.True(await page.EvalAsync<int>("() => window.socketcam.reconnects") >= 1);
                string[] texts = await page.EvalAsync<string[]>("() => window.socketcam.chat.map(m => m.text)");
                Assert.Equal(expected, texts);
                long[] seqs = await page.EvalAsync<long[]>("() => window.socketcam.chat.map(m => m.seq)");
                Assert.Equal(seqs.Order().Distinct(), seqs);
                Assert.Equal(4, await page.EvalAsync<int>("() => document.querySelectorAll('#chat-log .msg:not(.pending):not(.refused)').length"));
            }

            await native.WaitForChatAsync(4);
            Assert.Equal(expected, native.ChatShown.Select(m => m.Text));

            // And the call itself is back: they see each other's cameras again.
            uint bobId = await bob.EvalAsync<uint>("() => window.socketcam.participantId");
            await alice.UntilAsync($"window.socketcam.tiles[{bobId}] > 3", "Alice draws Bob's camera after the reconnect");
        }
        finally
        {
            await web.DisposeAsync().AsTask().WaitAsync(TestHub.Timeout);
        }
    }

    [Fact]
    public async Task CallPage_shows_the_hubs_refusals_of_an_oversize_and_an_over_rate_message_and_the_call_goes_on()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);
        await using BrowserPage alice = await browser.NewPageAsync();
        await using BrowserPage bob = await browser.NewPageAsync();
        await CallPage.JoinAsync(alice, server.Url, "Alice");
        uint bobId = await CallPage.JoinAsync(bob, server.Url, "Bob");

        await SendChatAsync(alice, new string('x', 4097));
        await alice.UntilAsync("window.socketcam.refusals.some(r => r.code === 'too-large')", "the oversize message is refused");
        string why = await alice.EvalAsync<string>("() => document.querySelector('#chat-log .refused .why').textContent");
        Assert.Contains("too-large", why, StringComparison.Ordinal);
        Assert.Contains("at most 4096 bytes", why, StringComparison.Ordinal);

        // Fifteen at once: the chat bucket holds ten.
        await alice.EvalAsync<int>(
            """
            () => {
              const input = document.getElementById('chat-input');
              for (let i = 0; i < 15; i++) {
                input.value = 'burst ' + i;
                input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
              }
              return 0;
            }
            """);
        await alice.UntilAsync("window.socketcam.refusals.some(r => r.code === 'rate-limited')", "an over-rate message is refused");
        await alice.UntilAsync("window.socketcam.refusals.length + window.socketcam.chat.length === 16", "every message of the burst is answered");
        Assert.Contains(
            await alice.EvalAsync<string[]>("() => [...document.querySelectorAll('#chat-log .refused .why')].map(e => e.textContent)"),
            t => t.Contains("rate-limited", StringComparison.Ordinal) && t.Contains("Too many messages", StringComparison.Ordinal));

        // The call goes on: Alice is live, still draws Bob, and gets his messages.
        Assert.Equal("live", await alice.EvalAsync<string>("() => window.socketcam.state"));
        long drawn = await alice.EvalAsync<long>($"() => window.socketcam.tiles[{bobId}]");
        await alice.UntilAsync($"window.socketcam.tiles[{bobId}] > {drawn.ToString(CultureInfo.InvariantCulture)} + 3", "Alice still draws Bob");
        await SendChatAsync(bob, "still here");
        await alice.UntilAsync("window.socketcam.chat.some(m => m.text === 'still here')", "Alice gets Bob's message");
    }

    [Fact]
    public async Task CallPage_at_phone_width_shows_the_grid_and_reachable_controls()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);
        await using BrowserPage desk = await browser.NewPageAsync();
        await using BrowserPage phone = await browser.NewPageAsync();
        await phone.Page.SetViewportSizeAsync(390, 844);
        uint deskId = await CallPage.JoinAsync(desk, server.Url, "Desk");
        uint phoneId = await CallPage.JoinAsync(phone, server.Url, "Phone");

        await phone.UntilAsync($"window.socketcam.tiles[{deskId}] > 3", "the phone draws the other camera");
        LocatorBoundingBoxResult grid = await BoxAsync(phone, "#grid");
        Assert.True(grid.Width > 200 && grid.X >= 0 && grid.X + grid.Width <= 390, $"grid {Describe(grid)}");
        LocatorBoundingBoxResult tile = await BoxAsync(phone, $".tile[data-participant=\"{deskId}\"]");
        Assert.True(tile.Width > 150 && tile.X + tile.Width <= 390 && tile.Y + tile.Height <= 844, $"tile {Describe(tile)}");
        foreach (string control in new[] { "#cam", "#screen", "#leave", "#people-toggle", "#chat-toggle" })
        {
            LocatorBoundingBoxResult box = await BoxAsync(phone, control);
            Assert.True(box.X >= 0 && box.X + box.Width <= 390 && box.Y >= 0 && box.Y + box.Height <= 844 && box.Width >= 40, $"{control} {Describe(box)}");
        }

        // The chat is a panel over the call, toggled; it works there.
        await phone.Page.ClickAsync("#chat-toggle");
        Assert.True(await phone.Page.IsVisibleAsync("#chat-input"));
        LocatorBoundingBoxResult panel = await BoxAsync(phone, "#panel");
        Assert.True(panel.Width >= 380, $"panel {Describe(panel)}");
        await phone.Page.FillAsync("#chat-input", "from the phone");
        await phone.Page.PressAsync("#chat-input", "Enter");
        await desk.UntilAsync("window.socketcam.chat.some(m => m.text === 'from the phone')", "the desk gets the phone's message");
        await phone.Page.ClickAsync("#panel-close");
        Assert.False(await phone.Page.IsVisibleAsync("#panel"));
        await phone.Page.ClickAsync("#people-toggle");
        Assert.True(await phone.Page.IsVisibleAsync("#people"));
        await phone.Page.ClickAsync("#panel-close");

        // Camera off on the phone: the desk shows its initials instead.
        await phone.Page.ClickAsync("#cam");
        await desk.UntilAsync($"document.querySelector('.tile[data-participant=\"{phoneId}\"]').classList.contains('camoff')", "the desk shows the phone's camera as off");
        Assert.Equal("P", await desk.EvalAsync<string>($"() => document.querySelector('.tile[data-participant=\"{phoneId}\"] .avatar').textContent"));
        await phone.Page.ClickAsync("#cam");
        await desk.UntilAsync($"!document.querySelector('.tile[data-participant=\"{phoneId}\"]').classList.contains('novideo')", "the phone's camera is back");

        await phone.Page.ClickAsync("#leave");
        await phone.UntilAsync("window.socketcam.state === 'left'", "the phone left");
    }

    [Fact]
    public async Task CallPage_is_linked_from_the_index_per_room_and_for_a_new_room()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(fps: 5, chatDirectory: _directory, token: "s3cret");
        await using BrowserPage page = await browser.NewPageAsync();
        await page.GotoAsync($"{server.Url}/#token=s3cret");
        await page.UntilAsync("document.querySelector('article.room[data-room=\"main\"] a.call')", "main has a Join call link");
        // Links between pages pass the token on in their fragment, never in their query.
        Assert.Equal("/call/main#token=s3cret", await page.EvalAsync<string>(
            "() => { const u = new URL(document.querySelector('article.room[data-room=\"main\"] a.call').href); return u.pathname + u.search + u.hash; }"));

        await page.Page.FillAsync("#room-name", "new-room_1");
        await page.Page.PressAsync("#room-name", "Enter");
        await page.Page.WaitForURLAsync($"{server.Url}/call/new-room_1#token=s3cret");
        Assert.True(await page.Page.IsVisibleAsync("#join-form"));
        Assert.Equal("new-room_1", await page.Page.TextContentAsync("#join-room"));

        // A bad room name is refused before any page is served.
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await server.Http.GetAsync("/call/bad%20room")).StatusCode);
    }

    [Fact]
    public async Task CallPage_on_a_hub_without_a_chat_store_says_so_and_the_call_works()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null);
        await using BrowserPage alice = await browser.NewPageAsync();
        await using BrowserPage bob = await browser.NewPageAsync();
        await CallPage.JoinAsync(alice, server.Url, "Alice");
        uint bobId = await CallPage.JoinAsync(bob, server.Url, "Bob");
        await alice.UntilAsync($"window.socketcam.tiles[{bobId}] > 3", "Alice draws Bob");
        await alice.UntilAsync("document.getElementById('chat-input').disabled", "the chat box is off");
        Assert.Equal("This hub keeps no chat", await alice.Page.GetAttributeAsync("#chat-input", "placeholder"));
    }

    [Fact]
    public async Task CallPage_passes_its_token_on_to_the_WebSocket_and_to_JOIN()
    {
        var hubOptions = new HubOptions { Sessions = new SessionOptions { Token = "s3cret" } };
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory, token: "s3cret", hubOptions: hubOptions);
        await using BrowserPage page = await browser.NewPageAsync();
        await page.RecordWebSocketsAsync();

        // The page holds no secret (200 without a token); the token travels in the fragment, which no request carries.
        Assert.Equal(200, (await page.GotoAsync($"{server.Url}/call/call")).Status);
        await page.GotoAsync($"{server.Url}/call/call?{LightVideo}#token=s3cret");
        await page.Page.FillAsync("#name", "Tokened");
        await page.Page.ClickAsync("#join");
        await page.UntilAsync("window.socketcam.state === 'live'", "the page with the token is in the call");
        // The hub (which has the token too) let the JOIN in by its field; no URL the page opened holds the token.
        Assert.Contains(await page.WebSocketLogAsync(), e => e.Event == "open" && e.Url.EndsWith("/v2/ws", StringComparison.Ordinal));
        Assert.DoesNotContain(await page.WebSocketLogAsync(), e => e.Url.Contains("s3cret", StringComparison.Ordinal));
        Assert.Equal(1, await page.EvalAsync<int>("() => window.socketcam.participants.length"));

        // A hub whose own token differs refuses the JOIN: the page stops with the hub's reason instead of retrying.
        var otherHub = new HubOptions { Sessions = new SessionOptions { Token = "another" } };
        await using WebTestServer strict = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: Path.Combine(_directory, "strict"), token: "s3cret", hubOptions: otherHub);
        await using BrowserPage refused = await browser.NewPageAsync();
        await refused.GotoAsync($"{strict.Url}/call/call?{LightVideo}#token=s3cret");
        await refused.Page.FillAsync("#name", "Refused");
        await refused.Page.ClickAsync("#join");
        await refused.UntilAsync("window.socketcam.state === 'left' && /nauthorized/.test(window.socketcam.reason)", "the page ends with the hub's unauthorized");
        Assert.True(await refused.Page.IsVisibleAsync("#left-reason"));
        Assert.Contains("nauthorized", await refused.Page.TextContentAsync("#left-reason") ?? "", StringComparison.Ordinal);
    }

    /// <summary>
    /// Not a check: four pages at the page's default video (640x360, 20 fps; SOCKETCAM_CALL_VIDEO=size=WxH&amp;fps=N for
    /// another) for SOCKETCAM_CALL_LATENCY seconds; each page's capture → canvas latency (p50, p99) printed.
    /// </summary>
    [Fact]
    public async Task CallPage_latency_with_four_participants_is_measured()
    {
        if (Environment.GetEnvironmentVariable("SOCKETCAM_CALL_LATENCY") is not { Length: > 0 } value || !int.TryParse(value, out int seconds))
        {
            output.WriteLine("set SOCKETCAM_CALL_LATENCY=SECONDS to measure");
            return;
        }

        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);
        var pages = new List<BrowserPage>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                BrowserPage page = await browser.NewPageAsync();
                pages.Add(page);
                await CallPage.JoinAsync(page, server.Url, $"P{i}", video: Environment.GetEnvironmentVariable("SOCKETCAM_CALL_VIDEO") ?? "");
            }

            await pages[0].UntilAsync("Object.values(window.socketcam.tiles).filter(n => n > 0).length === 3", "the first page draws the other three");
            foreach (BrowserPage page in pages)
            {
                await page.EvalAsync<int>("() => { window.socketcam.latencies.length = 0; return 0; }");
            }

            await Task.Delay(TimeSpan.FromSeconds(seconds));
            foreach ((BrowserPage page, int i) in pages.Select((p, i) => (p, i)))
            {
                string stats = await page.EvalAsync<string>(
                    """
                    () => JSON.stringify({ samples: window.socketcam.latencies.length, p50ms: window.socketcam.latencyP50Us() / 1000,
                      p99ms: window.socketcam.latencyP99Us() / 1000, sent: window.socketcam.framesSent, tiles: window.socketcam.tiles,
                      offsetUs: window.socketcam.clockOffsetUs })
                    """);
                output.WriteLine($"page {i}: {stats}");
            }
        }
        finally
        {
            foreach (BrowserPage page in pages)
            {
                await page.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Not a check: the screenshots of docs/HTTP.md (docs/images/call-*.png), written to $SOCKETCAM_SCREENSHOTS when it is
    /// set: a four-participant call with the chat open and a screen share (1280x800), the phone layout (390x844), and the
    /// name and preview screen.
    /// </summary>
    [Fact]
    public async Task CallPage_screenshots()
    {
        if (Environment.GetEnvironmentVariable("SOCKETCAM_SCREENSHOTS") is not { Length: > 0 } target)
        {
            output.WriteLine("set SOCKETCAM_SCREENSHOTS=DIR to write the screenshots");
            return;
        }

        Directory.CreateDirectory(target);
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);
        string[] names = ["Ada Lovelace", "Grace Hopper", "Linus", "Margaret Hamilton"];
        var pages = new List<BrowserPage>();
        try
        {
            // (a) a four-participant call with the chat panel open.
            BrowserPage first = await browser.NewPageAsync();
            pages.Add(first);
            await first.Page.SetViewportSizeAsync(1280, 800);
            await CallPage.JoinAsync(first, server.Url, names[0], room: "standup");
            for (int i = 1; i < names.Length; i++)
            {
                BrowserPage page = await browser.NewPageAsync();
                pages.Add(page);
                await CallPage.JoinAsync(page, server.Url, names[i], room: "standup");
            }

            await pages[3].Page.ClickAsync("#cam");
            await pages[1].Page.ClickAsync("#screen");
            await first.UntilAsync("document.querySelector('.tile.screen:not(.novideo)')", "Grace's screen share is drawn");
            await SendChatAsync(pages[1], "Morning! Can everyone see my screen?");
            await SendChatAsync(pages[2], "Yes, loud and clear!");
            await SendChatAsync(pages[0], "Let's start with the release notes.\nThen the demo.");
            await SendChatAsync(pages[3], "Camera's off, I'm on the train — listening in.");
            await first.UntilAsync("window.socketcam.chat.length === 4 && Object.values(window.socketcam.tiles).filter(n => n > 3).length >= 2", "chat and video in");
            if (!await first.Page.IsVisibleAsync("#chat-panel"))
            {
                await first.Page.ClickAsync("#chat-toggle");
            }

            await first.UntilAsync("document.querySelectorAll('.toast').length === 0", "the toasts faded");
            await first.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(target, "call-page.png") });

            // (b) the phone layout.
            BrowserPage phone = await browser.NewPageAsync();
            pages.Add(phone);
            await phone.Page.SetViewportSizeAsync(390, 844);
            await CallPage.JoinAsync(phone, server.Url, "Phone", room: "standup");
            await phone.UntilAsync("Object.values(window.socketcam.tiles).filter(n => n > 3).length >= 3", "the phone draws the cameras");
            await phone.UntilAsync("document.querySelectorAll('.toast').length === 0", "the toasts faded");
            await phone.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(target, "call-page-phone.png") });

            // (c) the name and preview screen of the next one to come.
            BrowserPage next = await browser.NewPageAsync();
            pages.Add(next);
            await next.Page.SetViewportSizeAsync(1280, 800);
            await next.GotoAsync($"{server.Url}/call/standup?{LightVideo}");
            await next.Page.FillAsync("#name", "Katherine Johnson");
            await next.UntilAsync("document.getElementById('preview').readyState >= 2 && /in the call/.test(document.getElementById('join-here').textContent)", "the preview plays and says who is here");
            await next.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(target, "call-join.png") });
        }
        finally
        {
            foreach (BrowserPage page in pages)
            {
                await page.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task CallPage_and_a_native_participant_survive_kill_9_of_the_real_hub_with_the_chat_intact()
    {
        int tcp = FreePorts.Tcp();
        int http = FreePorts.Tcp();
        string data = Path.Combine(_directory, "data");
        string url = $"http://127.0.0.1:{http}";
        string[] serveArgs = ["serve", "--listen", $"127.0.0.1:{tcp}", "--http", $"127.0.0.1:{http}", "--udp", "off", "--source", "none", "--data", data, "--quiet"];
        CliProcess hub = CliProcess.Start(_directory, serveArgs);
        try
        {
            await hub.WaitForStdoutLineAsync(l => l.Contains("HTTP listening", StringComparison.Ordinal), TestHub.Timeout);
            await using BrowserPage alice = await browser.NewPageAsync();
            await CallPage.JoinAsync(alice, url, "Alice");
            await using CliProcess bob = CliProcess.Start(_directory, "call", $"tcp://127.0.0.1:{tcp}/call", "--name", "Bob", "--no-window", "--json",
                "--source", "pattern", "--size", "320x180", "--fps", "10", "--quiet");
            await alice.UntilAsync("window.socketcam.participants.length === 2", "Alice sees Bob");
            await SendChatAsync(alice, "before the kill");
            await bob.WriteLineAsync("before the kill, from the terminal");
            await alice.UntilAsync("window.socketcam.chat.length === 2", "both messages on the page");

            // kill -9: no goodbye, nothing flushed beyond what SQLite committed.
            await hub.KillAsync();
            await hub.DisposeAsync();
            await alice.UntilAsync("window.socketcam.state === 'reconnecting'", "the page is reconnecting");
            await Eventually.UntilAsync(() => NativeLines(bob, "disconnected").Count > 0, "the terminal says the call dropped", TestHub.Timeout);
            await SendChatAsync(alice, "typed on the page while the hub was dead");
            await bob.WriteLineAsync("typed in the terminal while the hub was dead");

            hub = CliProcess.Start(_directory, serveArgs);
            await hub.WaitForStdoutLineAsync(l => l.Contains("HTTP listening", StringComparison.Ordinal), TestHub.Timeout);

            // Both come back by themselves; the history is whole, nothing twice, the same order on both sides.
            await alice.UntilAsync("window.socketcam.state === 'live' && window.socketcam.chat.length >= 4 && window.socketcam.participants.length === 2", "the page is back with the chat caught up");
            await Eventually.UntilAsync(() => NativeLines(bob, "chat").Count >= 4, $"the terminal caught up{Environment.NewLine}{bob.Transcript()}", TestHub.Timeout);
            string page = await alice.EvalAsync<string>("() => JSON.stringify(window.socketcam.chat.map(m => [m.seq, m.text]))");
            string terminal = JsonSerializer.Serialize(NativeLines(bob, "chat").Select(l => new object[] { l.GetProperty("seq").GetInt64(), l.GetProperty("text").GetString()! }));
            Assert.Equal(page, terminal);
            string[] texts = await alice.EvalAsync<string[]>("() => window.socketcam.chat.map(m => m.text)");
            Assert.Equal(["before the kill", "before the kill, from the terminal", "typed in the terminal while the hub was dead", "typed on the page while the hub was dead"], texts.Order());
            Assert.Equal(4, texts.Length);
            long[] seqs = await alice.EvalAsync<long[]>("() => window.socketcam.chat.map(m => m.seq)");
            Assert.Equal(new long[] { 1, 2, 3, 4 }, seqs);

            // And the video is back: the page draws Bob's camera again.
            await Eventually.UntilAsync(() => NativeLines(bob, "joined").Count(l => l.GetProperty("name").GetString() == "you") >= 2, "Bob rejoined", TestHub.Timeout);
            uint bobId = NativeLines(bob, "joined").Last(l => l.GetProperty("name").GetString() == "you").GetProperty("participant").GetUInt32();
            await alice.UntilAsync($"window.socketcam.tiles[{bobId}] > 3", "Alice draws Bob's camera after the restart");
        }
        finally
        {
            await hub.DisposeAsync();
        }
    }

    [Fact]
    public async Task CallPage_screen_share_is_a_second_track_the_others_see_as_its_own_tile_until_it_stops()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: null, chatDirectory: _directory);
        await using BrowserPage alice = await browser.NewPageAsync();
        await using BrowserPage bob = await browser.NewPageAsync();
        uint aliceId = await CallPage.JoinAsync(alice, server.Url, "Alice");
        await CallPage.JoinAsync(bob, server.Url, "Bob");
        await using RoomSession native = await RoomSession.JoinAsync(server.Hub, "Native", room: "call");

        await alice.Page.ClickAsync("#screen");
        string screenTile = $".tile.screen[data-participant=\"{aliceId}\"]";
        await bob.UntilAsync($"document.querySelector('{screenTile}:not(.novideo)')", "Bob sees Alice's screen as its own tile");
        await AssertMovingAsync(bob, screenTile + " canvas");
        Assert.Equal("true", await alice.Page.GetAttributeAsync("#screen", "aria-pressed"));
        // On the wire: Alice publishes two video tracks, the second a screen (and her microphone, an audio track).
        await Eventually.UntilAsync(() => native.Client.Room.Tracks.Any(t => t.ParticipantId == aliceId && t.Description.Source == SocketCam.Protocol.TrackSource.Screen),
            "a screen track in the room", TestHub.Timeout);
        Assert.Equal(2, native.Client.Room.Tracks.Count(t => t.ParticipantId == aliceId && t.Description.Kind == SocketCam.Media.TrackKind.Video));
        Assert.Single(native.Client.Room.Tracks, t => t.ParticipantId == aliceId && t.Description.Kind == SocketCam.Media.TrackKind.Audio);

        await alice.Page.ClickAsync("#screen");
        await bob.UntilAsync($"!document.querySelector('{screenTile}')", "the screen tile goes when the share stops");
        await Eventually.UntilAsync(() => native.Client.Room.Tracks.Count(t => t.ParticipantId == aliceId && t.Description.Kind == SocketCam.Media.TrackKind.Video) == 1, "the screen track unpublished", TestHub.Timeout);
        await AssertMovingAsync(bob, TileCanvas(aliceId)); // her camera goes on
    }

    private static async Task SendChatAsync(BrowserPage page, string text)
    {
        if (!await page.Page.IsVisibleAsync("#chat-input"))
        {
            await page.Page.ClickAsync("#chat-toggle");
        }

        await page.Page.FillAsync("#chat-input", text);
        await page.Page.PressAsync("#chat-input", "Enter");
    }

    private static string TileCanvas(uint participantId) => $".tile[data-participant=\"{participantId}\"]:not(.screen) canvas";

    private static async Task AssertMovingAsync(BrowserPage page, string selector)
    {
        int[] first = await page.SampleAsync(selector) ?? throw new InvalidOperationException($"{selector} has no size");
        Assert.True(first.Max() - first.Min() > 20, $"{selector} is (nearly) one colour: {JsonSerializer.Serialize(first)}");
        await Eventually.UntilAsync(
            async () => WatchPageBrowserTests.Difference(first, await page.SampleAsync(selector) ?? first) > 0.5,
            $"{selector} changes between two reads");
    }

    private static async Task<LocatorBoundingBoxResult> BoxAsync(BrowserPage page, string selector) =>
        await page.Page.Locator(selector).First.BoundingBoxAsync() ?? throw new InvalidOperationException($"{selector} is not visible. {page.Transcript()}");

    private static string Describe(LocatorBoundingBoxResult b) => $"at {b.X:0},{b.Y:0} size {b.Width:0}x{b.Height:0}";
}
