using System.Globalization;
using System.Text.Json;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Sniff;

/// <summary>
/// `socketcam sniff` (docs/SNIFF.md) on real traffic: a real raw packet socket on loopback while real clients talk to
/// a real hub; its --pcap file read back by the real tshark with the repository's Lua dissector (docs/WIRESHARK.md).
/// The figures are compared with the clients' own counts. (The lossy-link case is <see cref="SniffLossTests"/>.)
/// </summary>
[Collection(SniffCollection.Name)]
public sealed class SniffCliTests : IDisposable
{
    internal static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-sniff-").FullName;

    [Fact]
    public async Task A_call_with_chat_and_v1_and_udp_viewers_is_followed_and_every_count_agrees_with_the_clients_and_with_tshark()
    {
        int port = FreePorts.TcpAndUdp();
        string pcap = Path.Combine(_directory, "call.pcap");
        await using CliProcess hub = await StartHubAsync(port, "320x240", 30, "--data", Path.Combine(_directory, "data"));
        double startedSeconds = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        await using CliProcess sniff = await StartSniffAsync(["-i", "lo", "-p", $"{port}", "--pcap", pcap]);

        JsonElement tcpView = await ViewAsync($"tcp://127.0.0.1:{port}");
        JsonElement udpView = await ViewAsync($"udp://127.0.0.1:{port}");

        await using CliProcess alice = StartCall(port, "Alice");
        await WaitForLineAsync(alice, "joined");
        await using CliProcess bob = StartCall(port, "Bob");
        await WaitForLineAsync(bob, "joined");
        string[] fromAlice = ["hello from Alice", "<b>not bold</b>", "third"];
        string[] fromBob = ["hi Alice", "bye"];
        foreach (string line in fromAlice)
        {
            await alice.WriteLineAsync(line);
        }

        foreach (string line in fromBob)
        {
            await bob.WriteLineAsync(line);
        }

        int chatLines = fromAlice.Length + fromBob.Length;
        await Eventually.UntilAsync(() => Count(alice, "chat") >= chatLines && Count(bob, "chat") >= chatLines, $"chat seen by both{Environment.NewLine}{alice.Transcript()}", Wait);
        await Task.Delay(500); // frames both ways for a moment more
        await alice.InterruptAsync();
        await bob.InterruptAsync();
        Assert.Equal(0, await alice.WaitForExitAsync(Wait));
        Assert.Equal(0, await bob.WaitForExitAsync(Wait));
        JsonElement aliceSummary = alice.LastJsonLine();

        JsonElement figures = await StopSniffAsync(sniff, sessionsEnded: 4); // the two viewers' and the two participants'
        List<JsonElement> sessions = [.. figures.GetProperty("sessions").EnumerateArray()];
        string why = figures.ToString();

        // The v1 viewer: every frame it counted went over the wire (and at most the few in flight when it said GOODBYE).
        JsonElement v1 = Assert.Single(sessions, s => s.GetProperty("format").GetString() == "v1");
        Assert.Equal("viewer", v1.GetProperty("role").GetString());
        Assert.Null(v1.GetProperty("malformed").GetString());
        long v1Frames = Received(v1, "video");
        Assert.InRange(v1Frames, tcpView.GetProperty("frames").GetInt64(), tcpView.GetProperty("frames").GetInt64() + 3);
        Assert.Equal(v1Frames, v1.GetProperty("from_server").GetProperty("VIDEO_FRAME").GetInt64());
        Assert.StartsWith("GOODBYE normal", v1.GetProperty("end").GetString(), StringComparison.Ordinal);

        // The UDP viewer: its frames, and what its own REPORTs said it expected.
        JsonElement udp = Assert.Single(sessions, s => s.GetProperty("format").GetString() == "udp");
        Assert.Null(udp.GetProperty("malformed").GetString());
        Assert.InRange(Received(udp, "video"), udpView.GetProperty("frames").GetInt64(), udpView.GetProperty("frames").GetInt64() + 4);
        // (The viewer's last REPORT, just before its BYE, makes the sum read off the wire its whole count.)
        Assert.Equal(udpView.GetProperty("udp").GetProperty("fragments_lost").GetInt64(), udp.GetProperty("udp").GetProperty("reported_lost").GetInt64());

        // The call: two v2 participants, each one's chat as typed, each one seeing all of it.
        JsonElement a = Assert.Single(sessions, s => s.GetProperty("name").GetString() == "Alice");
        JsonElement b = Assert.Single(sessions, s => s.GetProperty("name").GetString() == "Bob");
        Assert.All([a, b], s => Assert.Equal("v2", s.GetProperty("format").GetString()));
        Assert.All([a, b], s => Assert.Null(s.GetProperty("malformed").GetString()));
        Assert.Equal(fromAlice.Length, a.GetProperty("chat").GetProperty("sent").GetInt64());
        Assert.Equal(fromBob.Length, b.GetProperty("chat").GetProperty("sent").GetInt64());
        Assert.Equal(chatLines, a.GetProperty("chat").GetProperty("received").GetInt64());
        Assert.Equal(chatLines, b.GetProperty("chat").GetProperty("received").GetInt64()); // Bob joined first: all of it live
        // Alice's own count of Bob's frames against what the wire carried to her from Bob.
        JsonElement bobInAlice = aliceSummary.GetProperty("participants").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "Bob");
        long bobVideoToAlice = a.GetProperty("tracks").EnumerateArray()
            .Where(t => t.GetProperty("direction").GetString() == "from_server" && t.GetProperty("kind").GetString() == "video")
            .Sum(t => t.GetProperty("frames").GetInt64());
        Assert.True(bobVideoToAlice > 0, why);
        Assert.InRange(bobVideoToAlice, bobInAlice.GetProperty("frames").GetInt64(), bobInAlice.GetProperty("frames").GetInt64() + 3);

        // tshark with the dissector: nothing malformed, every datagram and segment with data on the port is SocketCam's,
        // and its message counts are sniff's.
        var tshark = new Tshark(pcap, port);
        await AssertNoneAsync(tshark, $"({Tshark.MalformedFilter}) || ({Tshark.NotDissectedFilter})");
        // (The frame's time first: a later column's text cannot shift it. One pass of tshark for all of them.)
        FieldCounts counts = await tshark.CountAsync("frame.time_epoch", "socketcam.msg.type", "socketcam.udp.type", "socketcam.chat.text");
        Assert.Equal(chatLines, counts.Of("socketcam.msg.type", 0x54)); // CHAT_SEND
        Assert.Equal(2 * chatLines, counts.Of("socketcam.msg.type", 0xC6)); // CHAT_MESSAGE, to each of the two
        Assert.Equal(Sum(sessions, "VIDEO_FRAME"), counts.Of("socketcam.msg.type", 0x10));
        Assert.Equal(Sum(sessions, "FRAME"), counts.Of("socketcam.msg.type", 0x12));
        Assert.Equal(Sum(sessions, "JOIN"), counts.Of("socketcam.msg.type", 0x03));
        Assert.Equal(udp.GetProperty("udp").GetProperty("fragments").GetInt64(), counts.Of("socketcam.udp.type", 0x10));
        Assert.Equal(udp.GetProperty("from_client").GetProperty("DONE").GetInt64(), counts.Of("socketcam.udp.type", 0x13));
        // The chat's text is in the capture as text (Wireshark shows strings; the markup stays characters).
        Assert.Contains("<b>not bold</b>", counts.Texts("socketcam.chat.text"));

        // Every frame sniff said it wrote is in the file, stamped with the kernel's arrival time (within this test's run).
        List<double> stamps = [.. counts.Texts("frame.time_epoch").Select(t => double.Parse(t, CultureInfo.InvariantCulture))];
        Assert.Contains($"wrote {stamps.Count} frames (", Assert.Single(sniff.Stderr, l => l.StartsWith("wrote ", StringComparison.Ordinal)), StringComparison.Ordinal);
        double endedSeconds = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Assert.All(stamps, t => Assert.InRange(t, startedSeconds, endedSeconds));
        await hub.InterruptAsync();
    }

    [Fact]
    public async Task Image_transfers_over_tcp_and_udp_and_the_seed_format_are_recognised_and_dissected()
    {
        int tcpPort = FreePorts.Tcp(), udpPort = FreePorts.Udp(), seedPort = FreePorts.Tcp(), hubPort = FreePorts.Tcp();
        string pcap = Path.Combine(_directory, "transfers.pcap");
        string image = Path.Combine(_directory, "image.bin");
        await File.WriteAllBytesAsync(image, [.. Enumerable.Range(0, 200_000).Select(i => (byte)(i * 7))]);
        await using CliProcess hub = CliProcess.Start(_directory, "serve", "--listen", $"127.0.0.1:{hubPort}", "--udp", "off", "--http", "off",
            "--seed-tcp", $"127.0.0.1:{seedPort}", "--source", "pattern", "--size", "160x120", "--fps", "10", "--quiet");
        await hub.WaitForStdoutLineAsync(l => l.Contains($":{seedPort}", StringComparison.Ordinal), Wait);
        await using CliProcess sniff = await StartSniffAsync(["-i", "lo", "-p", $"{tcpPort}", "-p", $"{udpPort}", "-p", $"{seedPort}", "--pcap", pcap]);

        foreach ((string scheme, int port) in new[] { ("tcp", tcpPort), ("udp", udpPort) })
        {
            await using CliProcess receiver = CliProcess.Start(_directory, "receive-image", $"--{scheme}", $"127.0.0.1:{port}", "--out", Path.Combine(_directory, $"got-{scheme}.bin"));
            await receiver.WaitForStdoutLineAsync(l => l.Contains("waiting", StringComparison.OrdinalIgnoreCase) || l.Contains("listening", StringComparison.OrdinalIgnoreCase), Wait);
            (int sent, CliProcess sender) = await CliProcess.RunAsync(_directory, Wait, "send-image", $"{scheme}://127.0.0.1:{port}", image);
            await using (sender)
            {
                Assert.True(sent == 0, sender.Transcript());
            }

            Assert.Equal(0, await receiver.WaitForExitAsync(Wait));
        }

        (int viewed, CliProcess seedView) = await CliProcess.RunAsync(_directory, Wait, "view", $"seed+tcp://127.0.0.1:{seedPort}", "--frames", "5", "--json", "--no-window");
        await using (seedView)
        {
            Assert.True(viewed == 0, seedView.Transcript());
        }

        JsonElement figures = await StopSniffAsync(sniff, sessionsEnded: 3); // both transfers and the seed client
        List<JsonElement> sessions = [.. figures.GetProperty("sessions").EnumerateArray()];
        string why = figures.ToString();
        Assert.All(sessions, s => Assert.Null(s.GetProperty("malformed").GetString()));

        JsonElement overTcp = Assert.Single(sessions, s => s.GetProperty("format").GetString() == "image-tcp");
        Assert.Equal("TCP_RESULT ok", overTcp.GetProperty("end").GetString());
        Assert.Equal(200_000, Sent(overTcp, "file"));
        JsonElement overUdp = Assert.Single(sessions, s => s.GetProperty("format").GetString() == "image-udp");
        Assert.Equal(200_000, overUdp.GetProperty("udp").GetProperty("file_bytes").GetInt64());
        Assert.Equal(overUdp.GetProperty("udp").GetProperty("parts").GetInt64(), overUdp.GetProperty("udp").GetProperty("parts_seen").GetInt64());
        Assert.Equal(1, overUdp.GetProperty("from_server").GetProperty("ACK").GetInt64());
        JsonElement seed = Assert.Single(sessions, s => s.GetProperty("format").GetString() == "seed");
        long seedFrames = seed.GetProperty("from_server").GetProperty("SEED_FRAME").GetInt64();
        Assert.True(seedFrames >= 5, why);

        var tshark = new Tshark(pcap, tcpPort, udpPort, seedPort);
        await AssertNoneAsync(tshark, $"({Tshark.MalformedFilter}) || ({Tshark.NotDissectedFilter})");
        FieldCounts counts = await tshark.CountAsync("socketcam.image.type", "socketcam.seed.length");
        Assert.Equal(1, counts.Of("socketcam.image.type", 0x10)); // TCP_OFFER
        Assert.Equal(1, counts.Of("socketcam.image.type", 0x11)); // TCP_RESULT
        Assert.Equal(overUdp.GetProperty("from_client").GetProperty("DATA").GetInt64(), counts.Of("socketcam.image.type", 0x01));
        Assert.Equal(seedFrames, counts.Total("socketcam.seed.length"));
        await hub.InterruptAsync();
    }

    [Fact]
    public async Task A_peer_lying_about_sizes_is_marked_malformed_by_sniff_and_by_the_dissector_and_nothing_else_is()
    {
        int port = FreePorts.TcpAndUdp();
        string pcap = Path.Combine(_directory, "bad.pcap");
        await using CliProcess hub = await StartHubAsync(port, "160x120", 30);
        await using CliProcess sniff = await StartSniffAsync(["-i", "lo", "-p", $"{port}", "--pcap", pcap]);

        // A v2 preface, then a FRAME header announcing 4 GiB: the hub answers ERROR too-large and closes.
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", port);
            using var stream = tcp.GetStream();
            await stream.WriteAsync("SCAM\0\u0002\0\u0002"u8.ToArray());
            await stream.WriteAsync(new byte[] { 0x12, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xF0 });
            byte[] answer = new byte[256];
            while (await stream.ReadAsync(answer) > 0)
            {
            }
        }

        // A datagram with SocketCam's UDP magic and a FRAGMENT type that is 30 bytes long: no such layout.
        using (var udp = new System.Net.Sockets.UdpClient())
        {
            byte[] bad = new byte[30];
            "SCUV"u8.CopyTo(bad);
            bad[4] = 1;
            bad[5] = 0x10;
            await udp.SendAsync(bad, bad.Length, "127.0.0.1", port);
        }

        JsonElement good = await ViewAsync($"tcp://127.0.0.1:{port}"); // the hub, and sniff, go on
        JsonElement figures = await StopSniffAsync(sniff, sessionsEnded: 2); // the liar's (the hub closed it) and the viewer's
        List<JsonElement> sessions = [.. figures.GetProperty("sessions").EnumerateArray()];
        string why = figures.ToString();
        Assert.Contains(sessions, s => s.GetProperty("malformed").GetString()?.Contains("over its cap", StringComparison.Ordinal) == true);
        Assert.Contains(sessions, s => s.GetProperty("transport").GetString() == "udp" && s.GetProperty("malformed").GetString() is not null);
        JsonElement viewer = Assert.Single(sessions, s => s.GetProperty("role").GetString() == "viewer" && s.GetProperty("transport").GetString() == "tcp");
        Assert.Null(viewer.GetProperty("malformed").GetString());
        Assert.InRange(Received(viewer, "video"), good.GetProperty("frames").GetInt64(), good.GetProperty("frames").GetInt64() + 3);

        // Wireshark's own verdict: the two lies are malformed, the rest is not.
        List<string> malformed = await new Tshark(pcap, port).FieldsAsync(Tshark.MalformedFilter, "frame.protocols");
        Assert.Equal(2, malformed.Count);
        Assert.Contains(malformed, p => p.Contains("udp", StringComparison.Ordinal));
        Assert.Contains(malformed, p => p.Contains("tcp", StringComparison.Ordinal));
        await hub.InterruptAsync();
    }

    [Fact]
    public async Task A_session_under_way_before_sniff_started_is_found_by_its_content_without_a_port()
    {
        int port = FreePorts.TcpAndUdp();
        await using CliProcess hub = await StartHubAsync(port, "320x240", 20);
        await using CliProcess view = CliProcess.Start(_directory, "view", $"tcp://127.0.0.1:{port}", "--seconds", "60", "--json", "--no-window", "--quiet");
        // The viewer is in the room (the hub lists it) before sniff starts: sniff never sees its connection begin.
        await Eventually.UntilAsync(async () =>
        {
            (int code, CliProcess rooms) = await CliProcess.RunAsync(_directory, Wait, "rooms", $"tcp://127.0.0.1:{port}", "--json");
            await using (rooms)
            {
                return code == 0 && rooms.LastJsonLine().GetProperty("rooms").EnumerateArray().Any(r => r.GetProperty("hidden_watchers").GetInt32() > 0);
            }
        }, "the viewer in the room", Wait);
        await using CliProcess sniff = await StartSniffAsync(["-i", "lo"]);
        string server = $"127.0.0.1:{port}";
        await Eventually.UntilAsync(
            () => sniff.Stdout.LastOrDefault(l => l.StartsWith('{')) is { } line && ViewerFrames(line, server) >= 5 && ViewerPings(line, server) >= 1,
            $"the viewer's session found{Environment.NewLine}{sniff.Transcript()}",
            Wait);
        await view.InterruptAsync();
        Assert.Equal(0, await view.WaitForExitAsync(Wait));
        JsonElement figures = await StopSniffAsync(sniff, sessionsEnded: 0);
        JsonElement session = Assert.Single(figures.GetProperty("sessions").EnumerateArray(), s => s.GetProperty("server").GetString() == server);
        Assert.True(session.GetProperty("mid_stream").GetBoolean());
        Assert.Equal("stream", session.GetProperty("format").GetString());
        Assert.Null(session.GetProperty("malformed").GetString());
        Assert.True(session.GetProperty("from_client").GetProperty("PING").GetInt64() >= 1, session.ToString());
        Assert.True(Received(session, "video") >= 5, session.ToString());
        Assert.True(Received(session, "video") <= view.LastJsonLine().GetProperty("frames").GetInt64() + 3, session.ToString());
        await hub.InterruptAsync();
    }

    private static long ViewerPings(string json, string server)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("sessions").EnumerateArray()
            .Where(s => s.GetProperty("server").GetString() == server)
            .Sum(s => s.GetProperty("from_client").TryGetProperty("PING", out JsonElement n) ? n.GetInt64() : 0);
    }

    private static long ViewerFrames(string json, string server)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("sessions").EnumerateArray()
            .Where(s => s.GetProperty("server").GetString() == server)
            .SelectMany(s => s.GetProperty("tracks").EnumerateArray())
            .Sum(t => t.GetProperty("frames").GetInt64());
    }

    [Fact]
    public async Task With_ports_on_loopback_the_kernel_queues_only_their_frames()
    {
        int port = FreePorts.TcpAndUdp();
        await using CliProcess hub = await StartHubAsync(port, "160x120", 30);
        await using CliProcess mine = await StartSniffAsync(["-i", "lo", "-p", $"{port}"]);
        await using CliProcess other = await StartSniffAsync(["-i", "lo", "-p", $"{FreePorts.TcpAndUdp()}"]);
        JsonElement viewed = await ViewAsync($"udp://127.0.0.1:{port}");

        JsonElement seen = await StopSniffAsync(mine, sessionsEnded: 1);
        JsonElement unseen = await StopSniffAsync(other, sessionsEnded: 0);
        // The BPF filter passed every frame of the port (each twice on loopback: leaving and arriving) and nothing else.
        Assert.True(seen.GetProperty("kernel_packets").GetInt64() >= 2 * seen.GetProperty("frames").GetInt64(), seen.ToString());
        Assert.Equal(seen.GetProperty("frames").GetInt64(), seen.GetProperty("socketcam_frames").GetInt64());
        Assert.True(Received(seen.GetProperty("sessions")[0], "video") >= viewed.GetProperty("frames").GetInt64());
        Assert.Equal(0, unseen.GetProperty("kernel_packets").GetInt64());
        await hub.InterruptAsync();
    }

    [Fact]
    public async Task A_capture_file_that_fills_its_disk_ends_sniff_with_one_line_saying_so()
    {
        // A real full disk: a 1 MiB tmpfs, and 8 MiB of datagrams to capture onto it.
        string disk = Directory.CreateDirectory(Path.Combine(_directory, "tiny")).FullName;
        (int mounted, _, string why) = await MediaTools.RunAsync("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk);
        Assert.True(mounted == 0, why);
        try
        {
            int port = FreePorts.Udp();
            await using CliProcess sniff = await StartSniffAsync(["-i", "lo", "-p", $"{port}", "--pcap", Path.Combine(disk, "full.pcap")]);
            using var sender = new System.Net.Sockets.UdpClient();
            byte[] datagram = new byte[1400];
            for (int i = 0; i < 6000 && !sniff.HasExited; i++)
            {
                await sender.SendAsync(datagram, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
                if (i % 200 == 0)
                {
                    await Task.Delay(5); // within the kernel's queue: every datagram reaches the file's writer
                }
            }

            Assert.True(await sniff.WaitForExitAsync(Wait) == 1, sniff.Transcript());
            string line = Assert.Single(sniff.Stderr, l => l.StartsWith("socketcam:", StringComparison.Ordinal));
            Assert.Contains("cannot write the capture file", line, StringComparison.Ordinal);
            Assert.Contains("No space left on device", line, StringComparison.Ordinal);
            Assert.True(sniff.LastJsonLine().GetProperty("final").GetBoolean(), sniff.Transcript()); // the figures so far, still
        }
        finally
        {
            await MediaTools.RunAsync("umount", "-l", disk);
        }
    }

    [Fact]
    public async Task Without_CAP_NET_RAW_it_says_so_in_one_line()
    {
        // Root without the capability (dropped from the bounding set before exec): what an ordinary user meets.
        await using CliProcess sniff = CliProcess.StartThrough(["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"], "socketcam sniff (no CAP_NET_RAW)", _directory, null, "sniff", "--seconds", "1");
        Assert.Equal(1, await sniff.WaitForExitAsync(Wait));
        string line = Assert.Single(sniff.Stderr, l => l.Trim().Length > 0);
        Assert.Contains("CAP_NET_RAW", line, StringComparison.Ordinal);
        Assert.Contains("sudo", line, StringComparison.Ordinal);
    }

    /// <summary>`serve` on 127.0.0.1:PORT (TCP and UDP) with the test pattern, once its UDP banner says it listens on both.</summary>
    private async Task<CliProcess> StartHubAsync(int port, string size, int fps, params string[] extra)
    {
        CliProcess hub = CliProcess.Start(_directory, ["serve", "--listen", $"127.0.0.1:{port}", "--http", "off", "--source", "pattern",
            "--size", size, "--fps", fps.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extra, "--quiet"]);
        try
        {
            await hub.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam UDP listening on udp://", StringComparison.Ordinal), Wait);
            return hub;
        }
        catch
        {
            await hub.DisposeAsync();
            throw;
        }
    }

    internal static async Task AssertNoneAsync(Tshark tshark, string filter)
    {
        List<string> packets = await tshark.DescribeAsync(filter);
        Assert.True(packets.Count == 0, $"{packets.Count} packets match {filter}:{Environment.NewLine}{string.Join(Environment.NewLine, packets.Take(20))}");
    }

    private async Task<CliProcess> StartSniffAsync(string[] args)
    {
        CliProcess sniff = CliProcess.Start(_directory, ["sniff", "--json", "--interval", "0.5", .. args]);
        // The first figures line means the socket is open and reading.
        await sniff.WaitForStdoutLineAsync(l => l.StartsWith('{'), Wait);
        return sniff;
    }

    /// <summary>Stops sniff once its figures show <paramref name="sessionsEnded"/> sessions over (their last packets read), and returns its final figures.</summary>
    internal static async Task<JsonElement> StopSniffAsync(CliProcess sniff, int sessionsEnded)
    {
        await Eventually.UntilAsync(
            () => sniff.Stdout.LastOrDefault(l => l.StartsWith('{')) is { } line && EndedSessions(line) >= sessionsEnded,
            $"{sessionsEnded} sessions ended{Environment.NewLine}{sniff.Transcript()}",
            Wait);
        await sniff.InterruptAsync();
        Assert.Equal(0, await sniff.WaitForExitAsync(Wait));
        JsonElement final = sniff.LastJsonLine();
        Assert.True(final.GetProperty("final").GetBoolean(), sniff.Transcript());
        Assert.Equal(0, final.GetProperty("read_errors").GetInt64());
        return final;
    }

    private static int EndedSessions(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("sessions").EnumerateArray().Count(s => s.GetProperty("ended").GetBoolean());
    }

    private async Task<JsonElement> ViewAsync(string url)
    {
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, Wait, "view", url, "--frames", "20", "--json", "--no-window", "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.True(code == 0, view.Transcript());
            return view.LastJsonLine();
        }
    }

    private CliProcess StartCall(int port, string name) =>
        CliProcess.Start(_directory, "call", $"tcp://127.0.0.1:{port}/chat", "--name", name, "--no-window", "--json", "--source", "pattern", "--size", "160x120", "--fps", "10", "--quiet");

    private static Task WaitForLineAsync(CliProcess call, string type) =>
        Eventually.UntilAsync(() => Count(call, type) > 0, $"a '{type}' line{Environment.NewLine}{call.Transcript()}", Wait);

    private static int Count(CliProcess call, string type) =>
        call.Stdout.Count(l => l.StartsWith('{') && l.Contains($"\"type\":\"{type}\"", StringComparison.Ordinal));

    internal static long Received(JsonElement session, string trackId) => Track(session, trackId, "from_server");

    private static long Sent(JsonElement session, string trackId) =>
        session.GetProperty("tracks").EnumerateArray().Single(t => t.GetProperty("id").GetString() == trackId).GetProperty("bytes").GetInt64();

    private static long Track(JsonElement session, string trackId, string direction) =>
        session.GetProperty("tracks").EnumerateArray()
            .Single(t => t.GetProperty("id").GetString() == trackId && t.GetProperty("direction").GetString() == direction)
            .GetProperty("frames").GetInt64();

    private static long Sum(List<JsonElement> sessions, string type) =>
        sessions.Sum(s => Count(s, "from_client", type) + Count(s, "from_server", type));

    private static long Count(JsonElement session, string direction, string type) =>
        session.GetProperty(direction).TryGetProperty(type, out JsonElement n) ? n.GetInt64() : 0;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
