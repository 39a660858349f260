using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Playwright;
using SocketCam.Limits;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Web.Browser;

/// <summary>
/// Issue 13 finding 3 in real headless Chromium: a page of another origin (served by a second tiny HTTP server on another
/// port) tries to watch room main and publish into a new room over the WebSockets; the server refuses both before the
/// upgrade, while its own watch page plays. With --allow-origin for that site the same page gets in.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class OriginBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task A_page_of_another_origin_cannot_watch_or_publish_while_the_servers_own_watch_page_plays()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(fps: 15);
        await using var otherSite = OtherSite.Start(server.Web.EndPoint.Port);
        await using BrowserPage attack = await browser.NewPageAsync();

        Assert.Equal(200, (await attack.GotoAsync(otherSite.Url)).Status);
        await attack.UntilAsync("window.attack.done === 2", "both of the other site's WebSockets ended");
        string log = await attack.EvalAsync<string>("() => JSON.stringify(window.attack)");

        // Neither socket ever opened nor got a byte of video; the publish never made its room.
        Assert.True(await attack.EvalAsync<int>("() => window.attack.opened") == 0, log);
        Assert.Equal(0, await attack.EvalAsync<int>("() => window.attack.messages"));
        Assert.Equal(0, await attack.EvalAsync<int>("() => window.attack.sent"));
        Assert.DoesNotContain(server.Hub.Server.Rooms, r => r.Name == "stolen");
        // What a person sees in the console: the handshake was refused with 403.
        Assert.Contains("403", attack.Transcript(), StringComparison.Ordinal);
        Assert.Equal(2, server.Hub.Server.Guards.Refusals[Refusal.ForbiddenOrigin]);
        Assert.Contains(server.Hub.Logs.Entries, e => e.Message.Contains("Origin '" + otherSite.Url.TrimEnd('/') + "'", StringComparison.Ordinal));

        // The server's own watch page (same origin) plays in the same browser.
        await using BrowserPage own = await browser.NewPageAsync();
        Assert.Equal(200, (await own.GotoAsync($"{server.Url}/rooms/main")).Status);
        await own.UntilAsync("window.socketcam.framesDrawn > 5 && window.socketcam.state === 'live'", "the server's own watch page draws frames");
        Assert.Equal(2, server.Hub.Server.Guards.Refusals[Refusal.ForbiddenOrigin]);
    }

    [Fact]
    public async Task With_allow_origin_for_that_site_the_same_page_watches_and_publishes()
    {
        // The same attack page, the other site allowed: proves the refusal above is the Origin check and nothing else.
        await using var otherSite = OtherSite.Start(0);
        await using WebTestServer server = await WebTestServer.StartAsync(fps: 15, web: o => o with { AllowedOrigins = [otherSite.Url.TrimEnd('/')] });
        otherSite.HubPort = server.Web.EndPoint.Port;
        await using BrowserPage page = await browser.NewPageAsync();

        Assert.Equal(200, (await page.GotoAsync(otherSite.Url)).Status);
        await page.UntilAsync("window.attack.opened === 2 && window.attack.messages > 5 && window.attack.sent > 0", "the allowed site's sockets opened and carried video");
        await Eventually.UntilAsync(() => server.Hub.Server.Rooms.Any(r => r.Name == "stolen" && r.FramesPublished > 0), "the allowed site published into its room");
        Assert.Equal(0, server.Hub.Server.Guards.Refusals[Refusal.ForbiddenOrigin]);
    }

    /// <summary>A second HTTP server on another port of 127.0.0.1 (another origin) serving one page that opens the hub's WebSockets.</summary>
    private sealed class OtherSite : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        private OtherSite(int hubPort)
        {
            HubPort = hubPort;
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            _loop = ServeAsync();
        }

        public int HubPort { get; set; }

        public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";

        public static OtherSite Start(int hubPort) => new(hubPort);

        private string Page() => """
            <!doctype html><meta charset="utf-8"><title>another site</title>
            <script>
            const hub = 'ws://127.0.0.1:HUBPORT';
            window.attack = { opened: 0, messages: 0, sent: 0, done: 0, events: [] };
            const watch = new WebSocket(hub + '/rooms/main/ws');
            watch.binaryType = 'arraybuffer';
            const publish = new WebSocket(hub + '/rooms/stolen/publish/ws');
            for (const [name, ws] of [['watch', watch], ['publish', publish]]) {
              ws.onopen = () => { window.attack.opened++; window.attack.events.push(name + ' open'); };
              ws.onmessage = (e) => { if (name === 'watch') window.attack.messages++; };
              ws.onclose = (e) => { window.attack.done++; window.attack.events.push(`${name} close ${e.code} ${e.reason}`); };
            }
            // Publish a tiny JPEG (a 16x16 canvas) a few times a second once open.
            const canvas = document.createElement('canvas'); canvas.width = 16; canvas.height = 16;
            canvas.getContext('2d').fillRect(0, 0, 8, 8);
            setInterval(() => {
              if (publish.readyState !== WebSocket.OPEN) return;
              canvas.toBlob(b => b.arrayBuffer().then(buffer => { publish.send(buffer); window.attack.sent++; }), 'image/jpeg', 0.8);
            }, 100);
            </script>
            """.Replace("HUBPORT", HubPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

        private async Task ServeAsync()
        {
            try
            {
                while (true)
                {
                    using TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    try
                    {
                        await AnswerAsync(client.GetStream());
                    }
                    catch (IOException)
                    {
                        // A browser connection that went away: serve the next one.
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // Stopped.
            }
        }

        private async Task AnswerAsync(NetworkStream stream)
        {
            byte[] buffer = new byte[8192];
            var request = new StringBuilder();
            while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                int n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    break;
                }

                request.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }

            bool page = request.ToString().StartsWith("GET / ", StringComparison.Ordinal);
            byte[] body = Encoding.UTF8.GetBytes(page ? Page() : "not found\n");
            string head = $"HTTP/1.1 {(page ? "200 OK" : "404 Not Found")}\r\nContent-Type: {(page ? "text/html" : "text/plain")}; charset=utf-8\r\n"
                + $"Content-Length: {body.Length}\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token);
            await stream.WriteAsync(body, _stop.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }
    }
}
