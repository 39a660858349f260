using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Limits;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Web;

/// <summary>
/// Issue 13's hostile peers against the HTTP side, for real on loopback: the attacker connects from 127.0.0.2, the
/// legitimate client from 127.0.0.1. Limits are set small so each attack stays bounded in count and time.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed partial class HostilePeerTests
{
    private static HubOptions PerAddress(int connections, LimitOptions? limits = null) =>
        new() { Limits = (limits ?? new LimitOptions()) with { MaxConnectionsPerAddress = connections } };

    [Fact]
    public async Task A_WebSocket_from_another_origin_gets_403_with_a_line_saying_why_and_same_origin_or_no_origin_is_upgraded()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: "main", web: o => o with { AllowedOrigins = ["http://localhost:3000"] });
        int port = server.Web.EndPoint.Port;
        RefusalCounters refusals = server.Hub.Server.Guards.Refusals;

        foreach ((string path, string origin) in new[]
        {
            ("/rooms/main/ws", "http://127.0.0.1:1"),
            ("/rooms/evil/publish/ws", "http://evil.example"),
            ("/rooms/main/ws", "null"),
            ("/rooms/main/ws", $"https://127.0.0.1:{port}"), // same host and port, another scheme: another origin
        })
        {
            string response = await LoopbackPeer.RawRequestAsync(IPAddress.Loopback, port, LoopbackPeer.UpgradeRequest(port, path, origin), RefusalRead);
            Assert.StartsWith("HTTP/1.1 403", response, StringComparison.Ordinal);
            Assert.Contains("X-Content-Type-Options: nosniff", response, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("Content-Type: text/plain", response, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("--allow-origin", response, StringComparison.Ordinal);
            Assert.Contains($"not for pages of {origin}", response, StringComparison.Ordinal);
            Assert.DoesNotContain("101", response.Split("\r\n")[0], StringComparison.Ordinal);
        }

        Assert.Equal(4, refusals[Refusal.ForbiddenOrigin]);
        Assert.DoesNotContain(server.Hub.Server.Rooms, r => r.Name == "evil"); // the publish request never got in

        // The server's own pages (Origin = its scheme://Host), a listed origin, and programs without Origin are upgraded.
        foreach (string? origin in new[] { $"http://127.0.0.1:{port}", "http://LOCALHOST:3000", null })
        {
            string response = await LoopbackPeer.RawRequestAsync(IPAddress.Loopback, port, LoopbackPeer.UpgradeRequest(port, "/rooms/main/ws", origin),
                text => text.Contains("\r\n\r\n", StringComparison.Ordinal));
            Assert.StartsWith("HTTP/1.1 101", response, StringComparison.Ordinal);
        }

        Assert.Equal(4, refusals[Refusal.ForbiddenOrigin]);
    }

    [Fact]
    public async Task A_page_whose_name_was_re_pointed_at_the_server_is_refused_unless_that_name_is_allowed()
    {
        // DNS rebinding: evil.example resolves to this server, so the page's Origin and the request's Host agree.
        await using WebTestServer server = await WebTestServer.StartAsync(captureRoom: "main");
        int port = server.Web.EndPoint.Port;
        string rebound = RequestWithHost(port, $"evil.example:{port}", $"http://evil.example:{port}");
        string response = await LoopbackPeer.RawRequestAsync(IPAddress.Loopback, port, rebound,
            text => text.Contains($"--allow-origin http://evil.example:{port}\n", StringComparison.Ordinal));
        Assert.StartsWith("HTTP/1.1 403", response, StringComparison.Ordinal);
        Assert.Contains("opened by the name evil.example, which is not one of this server's own", response, StringComparison.Ordinal);
        Assert.Equal(1, server.Hub.Server.Guards.Refusals[Refusal.ForbiddenOrigin]);

        // Opened by this machine's own names, the same page is the server's own.
        foreach (string host in new[] { $"localhost:{port}", $"{System.Net.Dns.GetHostName()}:{port}", $"[::1]:{port}" })
        {
            string own = await LoopbackPeer.RawRequestAsync(IPAddress.Loopback, port, RequestWithHost(port, host, $"http://{host}"),
                text => text.Contains("\r\n\r\n", StringComparison.Ordinal));
            Assert.StartsWith("HTTP/1.1 101", own, StringComparison.Ordinal);
        }

        // A name the owner vouches for is allowed.
        await using WebTestServer allowing = await WebTestServer.StartAsync(captureRoom: "main", web: o => o with { AllowedOrigins = ["http://cam.example.lan:8080"] });
        int port2 = allowing.Web.EndPoint.Port;
        string named = await LoopbackPeer.RawRequestAsync(IPAddress.Loopback, port2, RequestWithHost(port2, "cam.example.lan:8080", "http://cam.example.lan:8080"),
            text => text.Contains("\r\n\r\n", StringComparison.Ordinal));
        Assert.StartsWith("HTTP/1.1 101", named, StringComparison.Ordinal);

        static string RequestWithHost(int port, string host, string origin) =>
            LoopbackPeer.UpgradeRequest(port, "/rooms/main/ws", origin).Replace($"Host: 127.0.0.1:{port}", $"Host: {host}", StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_slowloris_wave_from_one_address_leaves_healthz_answering_another_and_slow_headers_are_cut_off()
    {
        // 300 slow connections against a listener of 100: without the per-address cap they would take every slot.
        const int Attackers = 300;
        await using WebTestServer server = await WebTestServer.StartAsync(
            hubOptions: PerAddress(8),
            web: o => o with { MaxConnections = 100, RequestHeadersTimeout = TimeSpan.FromSeconds(4) });
        int port = server.Web.EndPoint.Port;
        int perAddress = server.Web.MaxConnectionsPerAddress;
        Assert.True(perAddress < 100, $"the per-address cap {perAddress} must be below the listener's 100 for this test to mean anything");

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var sockets = new List<Socket>();
        var closedByServer = new List<Task>();
        try
        {
            for (int i = 0; i < Attackers; i++)
            {
                Socket socket = await LoopbackPeer.ConnectAsync(LoopbackPeer.Attacker, port);
                sockets.Add(socket);
                await SendQuietlyAsync(socket, "G");
                closedByServer.Add(UntilClosedAsync(socket, stop.Token));
            }

            // Each attacker socket then trickles one header byte every 500 ms (bounded by `stop` and the socket count).
            Task trickle = TrickleAsync(sockets, stop.Token);

            // The legitimate client gets its answers while the attacker holds its share ...
            for (int i = 0; i < 5; i++)
            {
                using HttpResponseMessage health = await server.Http.GetAsync("/healthz");
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            }

            // ... because every connection beyond the address's share was closed at once.
            await Eventually.UntilAsync(() => closedByServer.Count(t => t.IsCompleted) >= Attackers - perAddress,
                $"the server closed the {Attackers - perAddress} connections beyond 127.0.0.2's share of {perAddress}");
            Assert.True(server.Hub.Server.Guards.Refusals[Refusal.AddressLimit] >= Attackers - perAddress);

            // The held ones never finish their headers: the header timeout (4 s here) cuts them off although they keep sending,
            // and each is counted.
            await Task.WhenAll(closedByServer).WaitAsync(TestHub.Timeout);
            await stop.CancelAsync();
            await trickle;
            long addressLimit = server.Hub.Server.Guards.Refusals[Refusal.AddressLimit];
            await Eventually.UntilAsync(() => server.Hub.Server.Guards.Refusals[Refusal.HandshakeTimeout] == Attackers - addressLimit,
                $"the {Attackers - addressLimit} held connections are counted as handshake timeouts");
        }
        finally
        {
            await stop.CancelAsync();
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task After_a_wave_of_refused_connections_the_server_compacts_its_heap_once()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(hubOptions: PerAddress(1));
        int port = server.Web.EndPoint.Port;
        // 1100 connections from 127.0.0.2, all held, then dropped: nearly all refused by the per-address cap (18 connections).
        var wave = new List<Socket>();
        try
        {
            for (int i = 0; i < 1100; i++)
            {
                wave.Add(await LoopbackPeer.ConnectAsync(LoopbackPeer.Attacker, port));
            }

            await Eventually.UntilAsync(() => server.Hub.Server.Guards.Refusals[Refusal.AddressLimit] >= 1100 - 18, "the wave beyond 127.0.0.2's share is refused");
        }
        finally
        {
            foreach (Socket socket in wave)
            {
                socket.Dispose();
            }
        }

        await Eventually.UntilAsync(() => server.Web.ConnectionCount == 0, "the wave's connections are gone");
        // Once a look (every 5 s) sees the wave is over, one compacting collection, logged with the working set.
        await Eventually.UntilAsync(() => server.Hub.Logs.Entries.Any(e => e.EventId.Id == 16 && e.Message.Contains("HTTP connections", StringComparison.Ordinal)), "the server logs that it gave the wave's memory back", TimeSpan.FromSeconds(30));
        LogEntry trimmed = Assert.Single(server.Hub.Logs.Entries, e => e.EventId.Id == 16);
        Assert.Matches(@"^A wave of \d{4,} HTTP connections is over: memory given back, managed heap \d+ -> \d+ MiB, process \d+ -> \d+ MiB$", trimmed.Message);
        Assert.Equal(1, server.Hub.Server.Guards.Memory.Collections);
    }

    [Fact]
    public async Task MJPEG_readers_that_never_read_from_one_address_get_their_share_and_a_clear_503_and_another_address_still_gets_in()
    {
        const int Attackers = 10;
        await using WebTestServer server = await WebTestServer.StartAsync(
            hubOptions: PerAddress(4), web: o => o with { MaxMjpegClients = 6 });
        int port = server.Web.EndPoint.Port;
        var sockets = new List<Socket>();
        try
        {
            var answers = new List<string>();
            for (int i = 0; i < Attackers; i++)
            {
                // A reader that reads its status line and then nothing more, with a tiny receive buffer.
                Socket socket = await LoopbackPeer.ConnectAsync(LoopbackPeer.Attacker, port, receiveBufferSize: 4096);
                sockets.Add(socket);
                await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"), SocketFlags.None);
                answers.Add(await ReadHeadAsync(socket));
            }

            Assert.Equal(4, answers.Count(a => a.StartsWith("HTTP/1.1 200", StringComparison.Ordinal)));
            string[] refused = [.. answers.Where(a => a.StartsWith("HTTP/1.1 503", StringComparison.Ordinal))];
            Assert.Equal(Attackers - 4, refused.Length);
            Assert.All(refused, a => Assert.Contains("too many MJPEG streams from your address (4)", a, StringComparison.Ordinal));
            Assert.Equal(Attackers - 4, server.Hub.Server.Guards.Refusals[Refusal.AddressLimit]);

            // 4 of the 6 slots are held by the stalled readers; the real client from 127.0.0.1 still streams.
            (HttpResponseMessage response, MultipartReader parts) = await server.OpenStreamAsync("/stream.mjpg");
            using (response)
            {
                using var timeout = new CancellationTokenSource(TestHub.Timeout);
                for (int i = 0; i < 10; i++)
                {
                    await parts.ReadPartAsync(timeout.Token);
                }
            }
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task Idle_WebSockets_from_one_address_get_their_share_and_4503_and_a_watcher_from_another_address_still_gets_in()
    {
        const int Attackers = 10;
        await using WebTestServer server = await WebTestServer.StartAsync(
            hubOptions: PerAddress(4), web: o => o with { MaxWebSocketClients = 6 });
        using var invoker = new HttpMessageInvoker(LoopbackPeer.Handler(LoopbackPeer.Attacker));
        var attackers = new List<ClientWebSocket>();
        try
        {
            int hellos = 0;
            var closes = new List<(WebSocketCloseStatus? Status, string? Reason)>();
            for (int i = 0; i < Attackers; i++)
            {
                ClientWebSocket socket = await LoopbackPeer.WebSocketAsync(invoker, server.WebSocketUri("/rooms/main/ws"));
                attackers.Add(socket);
                (WebSocketMessageType type, string? text, WebSocketCloseStatus? status, string? reason) = await FirstMessageAsync(socket);
                if (type == WebSocketMessageType.Text)
                {
                    Assert.Contains("\"hello\"", text, StringComparison.Ordinal);
                    hellos++; // then it reads nothing more: an idle watcher
                }
                else
                {
                    closes.Add((status, reason));
                }
            }

            Assert.Equal(4, hellos);
            Assert.Equal(Attackers - 4, closes.Count);
            Assert.All(closes, c =>
            {
                Assert.Equal((WebSocketCloseStatus)4503, c.Status);
                Assert.Contains("too many WebSockets from your address (4)", c.Reason, StringComparison.Ordinal);
            });
            Assert.Equal(Attackers - 4, server.Hub.Server.Guards.Refusals[Refusal.AddressLimit]);

            using ClientWebSocket watcher = await WebSocketTests.ConnectAsync(server, "/rooms/main/ws");
            Assert.Contains("hello", await WebSocketTests.ReceiveTextAsync(watcher), StringComparison.Ordinal);
            for (int i = 0; i < 10; i++)
            {
                await WebSocketTests.ReceiveFrameAsync(watcher);
            }
        }
        finally
        {
            foreach (ClientWebSocket socket in attackers)
            {
                socket.Abort();
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task Token_guessing_over_HTTP_is_throttled_per_address_with_429_and_Retry_After()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(token: "s3cret");
        using var attacker = new HttpClient(LoopbackPeer.Handler(LoopbackPeer.Attacker)) { BaseAddress = new Uri(server.Url), Timeout = TestHub.Timeout };
        int free = server.Hub.Server.Guards.FailedAttempts.FreeFailures;

        // Guess until refused unlooked; each block doubles (1 s, 2 s, 4 s): keep guessing until one is long enough to
        // check the rest inside it (the attacker waits Retry-After as told, so this takes a few seconds).
        var statuses = new List<HttpStatusCode>();
        int retryAfter = 0;
        for (int guess = 0; guess < 40 && retryAfter < 3; guess++)
        {
            using HttpResponseMessage response = await attacker.GetAsync($"/api/rooms?token=guess{guess}");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                TimeSpan? delta = response.Headers.RetryAfter?.Delta;
                Assert.True(delta is not null, "a 429 carries Retry-After in seconds");
                retryAfter = (int)delta.Value.TotalSeconds;
                Assert.InRange(retryAfter, 1, 60);
                Assert.Contains("too many wrong tokens", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                if (retryAfter < 3)
                {
                    await Task.Delay(TimeSpan.FromSeconds(retryAfter));
                }
            }
        }

        Assert.True(retryAfter >= 3, $"no long block after {statuses.Count} guesses: {string.Join(' ', statuses.Select(s => (int)s))}");
        // The free failures (and the one that starts the block) got their honest 401s, and only then did 429s start.
        int first = statuses.IndexOf(HttpStatusCode.TooManyRequests);
        Assert.True(first >= free + 1, $"429 after {first} guesses");
        Assert.All(statuses.Take(first), s => Assert.Equal(HttpStatusCode.Unauthorized, s));

        // While blocked even the right token from that address is refused unlooked (HTTP 429, WebSocket 4429) ...
        using (HttpResponseMessage right = await attacker.GetAsync("/api/rooms?token=s3cret"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        }

        using (var invoker = new HttpMessageInvoker(LoopbackPeer.Handler(LoopbackPeer.Attacker)))
        using (ClientWebSocket socket = await LoopbackPeer.WebSocketAsync(invoker, server.WebSocketUri("/rooms/main/ws?token=s3cret")))
        {
            (WebSocketMessageType type, _, WebSocketCloseStatus? status, string? reason) = await FirstMessageAsync(socket);
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal((WebSocketCloseStatus)4429, status);
            Assert.Contains("too many wrong tokens", reason, StringComparison.Ordinal);
        }

        // ... while another address with the token is served as usual.
        using (HttpResponseMessage other = await server.Http.GetAsync("/api/rooms?token=s3cret"))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        RefusalCounters refusals = server.Hub.Server.Guards.Refusals;
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.TooManyRequests) + 2, refusals[Refusal.Throttled]);
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.Unauthorized), refusals[Refusal.Unauthorized]);
    }

    [Fact]
    public async Task Every_response_error_pages_included_says_nosniff()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(token: "s3cret");
        foreach ((string path, HttpStatusCode status) in new[]
        {
            ("/%3Cscript%3Ealert(1)%3C%2Fscript%3E?token=s3cret", HttpStatusCode.NotFound),
            ("/rooms/nosuch/stream.mjpg?token=s3cret", HttpStatusCode.NotFound),
            ("/rooms/%3Cb%3Enope/stream.mjpg?token=s3cret", HttpStatusCode.BadRequest),
            ("/rooms/a%20b/snapshot.jpg?token=s3cret", HttpStatusCode.BadRequest),
            ("/api/rooms", HttpStatusCode.Unauthorized),
            ("/healthz", HttpStatusCode.OK),
            ("/?token=s3cret", HttpStatusCode.OK),
            ("/api/stats?token=s3cret", HttpStatusCode.OK),
        })
        {
            using HttpResponseMessage response = await server.Http.GetAsync(path);
            Assert.Equal(status, response.StatusCode);
            Assert.True(response.Headers.TryGetValues("X-Content-Type-Options", out IEnumerable<string>? values), $"{path}: no X-Content-Type-Options");
            Assert.Equal(["nosniff"], values);
        }
    }

    [Fact]
    public async Task Metrics_are_Prometheus_text_that_parses_and_counts_the_refusals_this_test_caused()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(token: "s3cret");
        int port = server.Web.EndPoint.Port;

        // Caused here: one request without the token (the metrics themselves need it), two WebSockets from another origin.
        using (HttpResponseMessage refused = await server.Http.GetAsync("/metrics"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        for (int i = 0; i < 2; i++)
        {
            string response = await LoopbackPeer.RawRequestAsync(IPAddress.Loopback, port, LoopbackPeer.UpgradeRequest(port, "/rooms/main/ws?token=s3cret", "http://evil.example"), RefusalRead);
            Assert.StartsWith("HTTP/1.1 403", response, StringComparison.Ordinal);
        }

        using ClientWebSocket watcher = await WebSocketTests.ConnectAsync(server, "/rooms/main/ws?token=s3cret");
        await WebSocketTests.ReceiveFrameAsync(watcher);

        using HttpResponseMessage metrics = await server.Http.GetAsync("/metrics?token=s3cret");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.Content.Headers.ContentType?.ToString());
        string text = await metrics.Content.ReadAsStringAsync();
        Dictionary<string, double> samples = ParsePrometheus(text);

        Assert.Equal(2, samples["socketcam_refusals_total{reason=\"forbidden_origin\"}"]);
        Assert.Equal(1, samples["socketcam_refusals_total{reason=\"unauthorized\"}"]);
        Assert.Equal(0, samples["socketcam_refusals_total{reason=\"address_limit\"}"]);
        Assert.Equal(Enum.GetValues<Refusal>().Length, samples.Keys.Count(k => k.StartsWith("socketcam_refusals_total{", StringComparison.Ordinal)));
        Assert.Equal(1, samples["socketcam_connections{kind=\"websocket\"}"]);
        Assert.True(samples["socketcam_connections{kind=\"http\"}"] >= 2, "the watcher's connection and this request's"); // HttpClient may keep more
        Assert.True(samples["socketcam_process_working_set_bytes"] > 10e6);
        Assert.True(samples["socketcam_gc_heap_bytes"] > 0);
        Assert.Equal(0, samples["socketcam_frames_in_flight_bytes"]);
        Assert.Equal(0, samples["socketcam_reassembly_bytes"]);
        Assert.True(samples["socketcam_frames_published_total"] > 0);
        Assert.False(samples.ContainsKey("socketcam_recording_bytes"), "no recorder hook was given");

        // /api/stats carries the same figures.
        JsonElement stats = await HttpServerTests.GetJsonAsync(server.Http, "/api/stats?token=s3cret");
        Assert.Equal(2, stats.GetProperty("refusals").GetProperty("forbidden_origin").GetInt64());
        JsonElement memory = stats.GetProperty("memory");
        Assert.True(memory.GetProperty("workingSetBytes").GetInt64() > 10_000_000);
        Assert.True(memory.GetProperty("gcHeapBytes").GetInt64() > 0);
        Assert.Equal(0, memory.GetProperty("framesInFlightBytes").GetInt64());
        Assert.Equal(0, memory.GetProperty("reassemblyBytes").GetInt64());
    }

    [Fact]
    public async Task Metrics_show_recording_bytes_from_the_hook()
    {
        long bytes = 12345;
        await using WebTestServer server = await WebTestServer.StartAsync(web: o => o with { RecordingBytes = () => Interlocked.Read(ref bytes) });
        Assert.Equal(12345, ParsePrometheus(await server.Http.GetStringAsync("/metrics"))["socketcam_recording_bytes"]);
        Interlocked.Exchange(ref bytes, 678);
        Assert.Equal(678, ParsePrometheus(await server.Http.GetStringAsync("/metrics"))["socketcam_recording_bytes"]);
        Assert.Equal(678, (await HttpServerTests.GetJsonAsync(server.Http, "/api/stats")).GetProperty("memory").GetProperty("recordingBytes").GetInt64());
    }

    [Fact]
    public async Task A_WebSocket_publisher_holds_its_frame_against_the_bytes_in_flight_budget()
    {
        // 200 kB for 127.0.0.1: a 300 kB message is refused while it arrives (1013), a small JPEG still publishes.
        const long Budget = 200_000;
        await using WebTestServer server = await WebTestServer.StartAsync(
            captureRoom: null, hubOptions: new HubOptions { Limits = new LimitOptions { FramesInFlightBytesPerAddress = Budget } });
        ByteBudget inFlight = server.Hub.Server.Guards.FramesInFlight;

        using (ClientWebSocket big = await WebSocketTests.ConnectAsync(server, "/rooms/big/publish/ws"))
        {
            await WebSocketTests.ReceiveTextAsync(big); // hello
            byte[] huge = new byte[300_000];
            try
            {
                await big.SendAsync(huge, WebSocketMessageType.Binary, true, CancellationToken.None);
            }
            catch (WebSocketException)
            {
                // The server may close before the whole message is sent.
            }

            (WebSocketCloseStatus? status, string? reason) = await WebSocketTests.ReceiveCloseAsync(big);
            Assert.Equal((WebSocketCloseStatus)1013, status);
            Assert.Contains("try again later", reason, StringComparison.Ordinal);
        }

        Assert.Equal(1, server.Hub.Server.Guards.Refusals[Refusal.FrameBudget]);
        Assert.InRange(inFlight.Peak, 1, Budget);
        await Eventually.UntilAsync(() => inFlight.InUse == 0, "the refused publisher's reservation is given back");

        using ClientWebSocket publisher = await WebSocketTests.ConnectAsync(server, "/rooms/cam/publish/ws");
        await WebSocketTests.ReceiveTextAsync(publisher);
        Assert.True(inFlight.InUse > 0, "a connected publisher's receive buffer is reserved");
        byte[] jpeg = (await WebSocketTests.EncodePatternAsync(160, 120, 1))[0];
        await publisher.SendAsync(jpeg, WebSocketMessageType.Binary, true, CancellationToken.None);
        await Eventually.UntilAsync(() => server.Hub.Server.Rooms.Any(r => r.Name == "cam" && r.FramesPublished == 1), "the small JPEG is published");
        await publisher.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        await Eventually.UntilAsync(() => inFlight.InUse == 0, "the publisher's reservation is given back when it leaves");
    }

    [Fact]
    public async Task A_WebSocket_publisher_that_trickles_a_frame_is_closed_as_too_slow_and_its_budget_comes_back_while_a_paused_one_stays()
    {
        // 1 s windows at 64 KiB/s: a message that brings a few bytes a window is cut; a publisher that merely waits
        // between messages (a paused camera, a background tab) is not.
        await using WebTestServer server = await WebTestServer.StartAsync(
            captureRoom: null, hubOptions: new HubOptions { Limits = new LimitOptions { MinDataRateGrace = TimeSpan.FromSeconds(1) } });
        ByteBudget inFlight = server.Hub.Server.Guards.FramesInFlight;
        byte[] jpeg = (await WebSocketTests.EncodePatternAsync(160, 120, 1))[0];

        using ClientWebSocket paused = await WebSocketTests.ConnectAsync(server, "/rooms/paused/publish/ws");
        await WebSocketTests.ReceiveTextAsync(paused);
        using ClientWebSocket trickler = await WebSocketTests.ConnectAsync(server, "/rooms/slow/publish/ws");
        await WebSocketTests.ReceiveTextAsync(trickler);

        // The first 2 kB of a big message, then 10 bytes every 700 ms: each window brings far less than 64 KiB.
        await trickler.SendAsync(new byte[2048], WebSocketMessageType.Binary, endOfMessage: false, CancellationToken.None);
        Task<(WebSocketCloseStatus? Status, string? Reason)> closed = WebSocketTests.ReceiveCloseAsync(trickler);
        for (int i = 0; i < 20 && !closed.IsCompleted; i++)
        {
            await Task.Delay(700);
            try
            {
                await trickler.SendAsync(new byte[10], WebSocketMessageType.Binary, endOfMessage: false, CancellationToken.None);
            }
            catch (WebSocketException)
            {
                break; // closed by the server meanwhile
            }
        }

        (WebSocketCloseStatus? status, string? reason) = await closed.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        Assert.Matches("^sending too slowly: [0-9]+ B/s, at least 65536 B/s$", reason);
        Assert.Equal(1, server.Hub.Server.Guards.Refusals[Refusal.DataRateTooLow]);

        // The publisher that only waited between its messages is still there and publishes.
        await paused.SendAsync(jpeg, WebSocketMessageType.Binary, true, CancellationToken.None);
        await Eventually.UntilAsync(() => server.Hub.Server.Rooms.Any(r => r.Name == "paused" && r.FramesPublished == 1), "the paused publisher's frame is published");
        await paused.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        await Eventually.UntilAsync(() => inFlight.InUse == 0, "every reservation is given back");
    }

    [Fact]
    public async Task A_WebSocket_publisher_above_max_publish_fps_has_its_extra_frames_dropped_and_counted()
    {
        const double Fps = 5;
        const int Sent = 40;
        await using WebTestServer server = await WebTestServer.StartAsync(
            captureRoom: null, hubOptions: new HubOptions { Limits = new LimitOptions { MaxPublishFps = Fps } });
        byte[] jpeg = (await WebSocketTests.EncodePatternAsync(160, 120, 1))[0];
        var clock = Stopwatch.StartNew(); // before the publisher (and its rate limit) exists
        using ClientWebSocket publisher = await WebSocketTests.ConnectAsync(server, "/rooms/flood/publish/ws");
        await WebSocketTests.ReceiveTextAsync(publisher);
        RefusalCounters refusals = server.Hub.Server.Guards.Refusals;
        Room room = server.Hub.Server.Rooms.Single(r => r.Name == "flood");

        for (int i = 0; i < Sent; i++)
        {
            await publisher.SendAsync(jpeg, WebSocketMessageType.Binary, true, CancellationToken.None);
        }

        await Eventually.UntilAsync(() => room.FramesPublished + refusals[Refusal.PublishRateLimit] == Sent, "every frame was published or dropped");
        double seconds = clock.Elapsed.TotalSeconds;
        // The bucket holds one second (5 frames) and refills at 5 fps: no more can have gone through in the time taken.
        Assert.InRange(room.FramesPublished, 1, (long)Math.Ceiling(Fps + (Fps * seconds)));
        Assert.True(refusals[Refusal.PublishRateLimit] > 0, $"nothing dropped in {seconds:0.00} s");
    }

    /// <summary>The connection stays open (keep-alive): a refusal is read once its one line has arrived, or anything else has headers.</summary>
    private static bool RefusalRead(string text) =>
        text.Contains("--allow-origin ORIGIN\n", StringComparison.Ordinal) || (!text.StartsWith("HTTP/1.1 403", StringComparison.Ordinal) && text.Contains("\r\n\r\n", StringComparison.Ordinal));

    /// <summary>Every line is a comment or `name{labels} value`; returns the samples by `name{labels}`.</summary>
    internal static Dictionary<string, double> ParsePrometheus(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        var typed = new HashSet<string>(StringComparer.Ordinal);
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        foreach (string line in text.TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith('#'))
            {
                Match comment = CommentLine().Match(line);
                Assert.True(comment.Success, $"bad comment line '{line}'");
                if (comment.Groups[1].Value == "TYPE")
                {
                    typed.Add(comment.Groups[2].Value);
                }

                continue;
            }

            Match sample = SampleLine().Match(line);
            Assert.True(sample.Success, $"not `name{{labels}} value`: '{line}'");
            string name = sample.Groups["name"].Value;
            Assert.StartsWith("socketcam_", name, StringComparison.Ordinal);
            Assert.Contains(name, typed); // TYPE comes before a family's samples
            Assert.True(samples.TryAdd(name + sample.Groups["labels"].Value, double.Parse(sample.Groups["value"].Value, CultureInfo.InvariantCulture)), $"twice: '{line}'");
        }

        return samples;
    }

    [GeneratedRegex("""^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$""")]
    private static partial Regex CommentLine();

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?<labels>\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (?<value>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)$""")]
    private static partial Regex SampleLine();

    private static async Task SendQuietlyAsync(Socket socket, string text)
    {
        try
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);
        }
        catch (SocketException)
        {
            // Closed by the server already: that is what is being tested.
        }
    }

    private static async Task TrickleAsync(List<Socket> sockets, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(500, stop);
                foreach (Socket socket in sockets)
                {
                    await SendQuietlyAsync(socket, "E");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Completes when the server closes or resets the socket (whatever it sent before, a 408 say, is read and dropped).</summary>
    private static async Task UntilClosedAsync(Socket socket, CancellationToken stop)
    {
        byte[] buffer = new byte[1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, stop) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
    }

    private static async Task<string> ReadHeadAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TestHub.Timeout);
        var text = new StringBuilder();
        byte[] buffer = new byte[1];
        // Byte by byte up to the blank line of a stream (its JPEGs stay unread); a refusal is read to its end (Connection: close).
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                return text.ToString();
            }

            text.Append((char)buffer[0]);
            if (text.Length > 12 && text[9] == '2' && text.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                return text.ToString();
            }
        }
    }

    private static async Task<(WebSocketMessageType Type, string? Text, WebSocketCloseStatus? Status, string? Reason)> FirstMessageAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TestHub.Timeout);
        byte[] buffer = new byte[4096];
        WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, timeout.Token);
        return result.MessageType == WebSocketMessageType.Close
            ? (result.MessageType, null, result.CloseStatus, result.CloseStatusDescription)
            : (result.MessageType, Encoding.UTF8.GetString(buffer, 0, result.Count), null, null);
    }
}
