using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Cli;

/// <summary>The `socketcam` executable end to end, as a user runs it: a child process, its output and its exit code.</summary>
[Collection(NetworkCollection.Name)]
public sealed partial class CliTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("serve", "--size", "99999x1")]
    [InlineData("serve", "--room", "a b")]
    [InlineData("serve", "--codec", "vp9")]
    [InlineData("serve", "--max-frame-bytes", "10")]
    [InlineData("serve", "--quality", "0")]
    [InlineData("serve", "--fps", "NaN")]
    [InlineData("view", "tcp://127.0.0.1:1", "--seconds", "Infinity")]
    [InlineData("view", "tcp://127.0.0.1:1", "--seconds", "0")]
    [InlineData("publish", "tcp://127.0.0.1:1", "--seconds", "-1")]
    [InlineData("demo", "--seconds", "1e7")]
    public async Task A_bad_option_value_is_one_line_and_exit_code_2(params string[] args)
    {
        (int code, CliProcess cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, args);
        await using (cli)
        {
            Assert.True(code == 2, $"exit code {code}{Environment.NewLine}{cli.Transcript()}");
            string[] lines = [.. cli.Stderr.Where(l => l.Length > 0)];
            Assert.True(lines.Length == 1, $"expected one line on stderr:{Environment.NewLine}{cli.Transcript()}");
            Assert.StartsWith("socketcam:", lines[0], StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", lines[0], StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(20)]
    [InlineData(300)]
    [InlineData(1200)]
    public async Task Ctrl_C_at_any_moment_of_start_up_stops_serve_cleanly(int afterMilliseconds)
    {
        // Before the fix, a Ctrl+C before System.CommandLine had registered its handler (up to ~1.5 s into serve's start)
        // killed it with 130 and no word. Timed from when the runtime has mapped socketcam.dll: before that no program
        // of ours runs at all, and the signal's default action is all there is.
        await using CliProcess serve = CliProcess.Start(null, "serve", "--listen", "127.0.0.1:0", "--http", "off", "--udp", "off", "--data", "off", "--quiet");
        await Eventually.UntilAsync(() => File.ReadAllText($"/proc/{serve.Id}/maps").Contains("socketcam.dll", StringComparison.Ordinal), "socketcam.dll loaded");
        await Task.Delay(afterMilliseconds);
        await serve.InterruptAsync();
        Assert.True(await serve.WaitForExitAsync(ProcessTimeout) == 0, serve.Transcript());
        Assert.DoesNotContain(serve.Stderr, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_too_long_token_is_refused_without_echoing_it()
    {
        // Above the 4096 bytes protocol v2 carries: a usage error.
        string token = new('k', 4097);
        (int code, CliProcess cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", "tcp://127.0.0.1:1", "--token", token);
        await using (cli)
        {
            Assert.True(code == 2, $"exit code {code}{Environment.NewLine}{cli.Transcript()}");
            string[] lines = [.. cli.Stderr.Where(l => l.Length > 0)];
            Assert.Single(lines);
            Assert.StartsWith("socketcam:", lines[0], StringComparison.Ordinal);
            Assert.DoesNotContain(token, cli.Transcript(), StringComparison.Ordinal);
        }

        // Above the 255 a v1 HELLO carries (view speaks v1): one line that says what to do, the token not in it.
        await using TestHub hub = TestHub.Start();
        string v1Token = new('k', 256);
        (code, cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", hub.Url, "--token", v1Token, "--no-reconnect");
        await using (cli)
        {
            Assert.True(code != 0, cli.Transcript());
            Assert.Contains(cli.Stderr, l => l.StartsWith("socketcam: The token is 256 bytes; a v1 HELLO", StringComparison.Ordinal));
            Assert.DoesNotContain(v1Token, cli.Transcript(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task View_prints_a_json_summary_and_writes_a_png_snapshot()
    {
        await using TestHub hub = TestHub.Start();
        string snapshot = Path.Combine(_directory, "last.png");

        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout,
            "view", hub.Url, "--frames", "20", "--json", "--snapshot", snapshot, "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{view.Transcript()}");
            JsonElement json = view.LastJsonLine();
            Assert.True(json.GetProperty("frames").GetInt64() >= 20, view.Transcript());
            Assert.Equal(320, json.GetProperty("width").GetInt32());
            Assert.Equal(240, json.GetProperty("height").GetInt32());
            Assert.Equal("jpeg", json.GetProperty("codec").GetString());
            Assert.Equal(JsonValueKind.Number, json.GetProperty("latency_ms").GetProperty("p50").ValueKind);
            Assert.True(json.GetProperty("fps").GetDouble() > 0);
            AssertNoStackTrace(view);
        }

        Assert.True(File.Exists(snapshot), "no snapshot was written");
        byte[] png = await File.ReadAllBytesAsync(snapshot);
        Assert.True(png.Length > 33 && png.AsSpan(0, 8).SequenceEqual(PngSignature), "the snapshot is not a PNG");
        // IHDR is the first chunk: width and height at offsets 16 and 20.
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(320u, BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(240u, BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(20)));
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Demo_runs_for_the_given_seconds_and_leaves_no_file_behind()
    {
        (int code, CliProcess demo) = await CliProcess.RunAsync(_directory, ProcessTimeout, "demo", "--seconds", "3", "--json", "--size", "320x240");
        await using (demo)
        {
            Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{demo.Transcript()}");
            JsonElement json = demo.LastJsonLine();
            Assert.True(json.GetProperty("frames").GetInt64() > 0, demo.Transcript());
            Assert.Equal(320, json.GetProperty("width").GetInt32());
            Assert.Equal(240, json.GetProperty("height").GetInt32());
            AssertNoStackTrace(demo);
        }

        // Nothing unasked in the user's directory (it used to get socketcam-demo.jpg).
        Assert.Empty(Directory.GetFileSystemEntries(_directory));
    }

    [Fact]
    public async Task Demo_writes_its_last_frame_to_the_snapshot_file_asked_for()
    {
        (int code, CliProcess demo) = await CliProcess.RunAsync(_directory, ProcessTimeout, "demo", "--seconds", "2", "--size", "320x240", "--snapshot", "last.jpg");
        await using (demo)
        {
            Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{demo.Transcript()}");
            AssertNoStackTrace(demo);
        }

        Assert.Equal(["last.jpg"], Directory.GetFileSystemEntries(_directory).Select(Path.GetFileName));
        byte[] jpeg = await File.ReadAllBytesAsync(Path.Combine(_directory, "last.jpg"));
        Assert.True(jpeg.Length > 100);
        Assert.Equal([0xFF, 0xD8], jpeg[..2]);
        Assert.Equal([0xFF, 0xD9], jpeg[^2..]);
        // The frame's own size in its SOF0 header: a real 320x240 picture, not just JPEG markers.
        (int width, int height) = JpegSize(jpeg);
        Assert.Equal((320, 240), (width, height));
    }

    private static (int Width, int Height) JpegSize(byte[] jpeg)
    {
        for (int i = 2; i + 9 < jpeg.Length;)
        {
            Assert.Equal(0xFF, jpeg[i]);
            byte marker = jpeg[i + 1];
            int length = BinaryPrimitives.ReadUInt16BigEndian(jpeg.AsSpan(i + 2));
            if (marker is >= 0xC0 and <= 0xC2)
            {
                return (BinaryPrimitives.ReadUInt16BigEndian(jpeg.AsSpan(i + 7)), BinaryPrimitives.ReadUInt16BigEndian(jpeg.AsSpan(i + 5)));
            }

            i += 2 + length;
        }

        throw new Xunit.Sdk.XunitException("no SOF marker in the JPEG");
    }

    [Fact]
    public async Task Serve_prints_its_address_serves_a_viewer_and_stops_cleanly_on_sigint()
    {
        int port = FreePorts.Tcp();
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", $"127.0.0.1:{port}", "--size", "320x240", "--quiet");
        int printed = await WaitForBannerPortAsync(serve);
        Assert.Equal(port, printed);

        await AssertViewGetsFramesAsync(printed);

        await serve.InterruptAsync();
        int code = await serve.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.True(code == 0, $"serve exit code {code} after SIGINT{Environment.NewLine}{serve.Transcript()}");
        AssertNoStackTrace(serve);
    }

    [Fact]
    public async Task Serve_on_port_0_prints_the_port_it_got_serves_a_viewer_and_stops_cleanly_on_sigint()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--size", "320x240", "--quiet");
        int port = await WaitForBannerPortAsync(serve);
        Assert.NotEqual(0, port);

        await AssertViewGetsFramesAsync(port);

        await serve.InterruptAsync();
        int code = await serve.WaitForExitAsync(TimeSpan.FromSeconds(20));
        Assert.True(code == 0, $"serve exit code {code} after SIGINT{Environment.NewLine}{serve.Transcript()}");
        AssertNoStackTrace(serve);
    }

    [Fact]
    public async Task Rooms_lists_the_hubs_own_capture_as_a_participant_with_a_synthetic_track()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--source", "pattern", "--size", "320x240", "--http", "off", "--udp", "off", "--quiet");
        int port = await WaitForBannerPortAsync(serve);

        (int code, CliProcess rooms) = await CliProcess.RunAsync(_directory, ProcessTimeout, "rooms", $"tcp://127.0.0.1:{port}", "--json");
        await using (rooms)
        {
            Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{rooms.Transcript()}");
            JsonElement main = rooms.LastJsonLine().GetProperty("rooms").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "main");
            JsonElement hub = Assert.Single(main.GetProperty("participants").EnumerateArray());
            Assert.Equal("hub", hub.GetProperty("name").GetString());
            Assert.True(hub.GetProperty("hub_source").GetBoolean());
            JsonElement track = Assert.Single(hub.GetProperty("tracks").EnumerateArray());
            Assert.Equal("synthetic", track.GetProperty("source").GetString()); // --source pattern, not "unknown"
            Assert.Equal((320, 240), (track.GetProperty("width").GetInt32(), track.GetProperty("height").GetInt32()));
            AssertNoStackTrace(rooms);
        }

        (int humanCode, CliProcess human) = await CliProcess.RunAsync(_directory, ProcessTimeout, "rooms", $"tcp://127.0.0.1:{port}");
        await using (human)
        {
            Assert.Equal(0, humanCode);
            Assert.Contains("room 'main'", human.Transcript(), StringComparison.Ordinal);
        }

        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Rooms_without_a_hub_says_so_in_one_line()
    {
        (int code, CliProcess rooms) = await CliProcess.RunAsync(_directory, ProcessTimeout, "rooms", $"tcp://127.0.0.1:{FreePorts.Tcp()}");
        await using (rooms)
        {
            Assert.NotEqual(0, code);
            Assert.Contains("connection refused", rooms.Transcript(), StringComparison.Ordinal);
            AssertNoStackTrace(rooms);
        }
    }

    [Fact]
    public async Task Serve_room_limit_flags_are_announced_in_welcome_and_enforced()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--source", "none", "--http", "off", "--udp", "off", "--quiet",
            "--max-participants", "1", "--max-tracks", "3", "--max-subscriptions", "5", "--max-requests-per-second", "7");
        int port = await WaitForBannerPortAsync(serve);
        var endpoint = new SocketCam.Transport.StreamEndpoint("tcp", "127.0.0.1", port);
        var options = new SocketCam.Client.ClientOptions { Room = "limits", Reconnect = false };
        using var timeout = new CancellationTokenSource(ProcessTimeout);

        await using (SocketCam.Client.RoomClient first = await SocketCam.Client.RoomClient.ConnectAsync(endpoint, options, "first", hidden: false, timeout.Token))
        {
            SocketCam.Protocol.WelcomeV2Message welcome = first.Welcome;
            Assert.Equal((1, 3, 5, 7, 28), (welcome.MaxParticipants, welcome.MaxTracks, welcome.MaxSubscriptions, welcome.RequestRate, welcome.RequestBurst));

            // The room holds one visible participant: a second is refused with room-full.
            var refused = await Assert.ThrowsAsync<SocketCam.Protocol.RemoteErrorException>(() =>
                SocketCam.Client.RoomClient.ConnectAsync(endpoint, options, "second", hidden: false, timeout.Token));
            Assert.Equal(SocketCam.Protocol.ErrorCode.RoomFull, refused.Code);
        }

        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Theory]
    [InlineData("wrong")]
    [InlineData(null)]
    public async Task View_with_a_wrong_or_missing_token_fails_with_one_line_saying_unauthorized(string? token)
    {
        await using TestHub hub = TestHub.Start(new HubOptions { Sessions = new() { Token = "s3cret" } });
        string[] args = token is null
            ? ["view", hub.Url, "--frames", "5", "--quiet", "--no-reconnect"]
            : ["view", hub.Url, "--token", token, "--frames", "5", "--quiet", "--no-reconnect"];

        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout, args);
        await using (view)
        {
            Assert.True(code != 0, $"view succeeded with a bad token{Environment.NewLine}{view.Transcript()}");
            string[] errors = [.. view.Stderr.Where(l => l.Contains("unauthorized", StringComparison.OrdinalIgnoreCase))];
            Assert.True(errors.Length == 1, $"expected one line about 'unauthorized'{Environment.NewLine}{view.Transcript()}");
            Assert.StartsWith("socketcam: ", errors[0], StringComparison.Ordinal);
            AssertNoStackTrace(view);
        }
    }

    [Fact]
    public async Task View_of_an_address_where_nothing_listens_fails_with_one_line()
    {
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", "tcp://127.0.0.1:1", "--no-reconnect", "--quiet");
        await using (view)
        {
            Assert.True(code != 0, $"view succeeded with nothing to connect to{Environment.NewLine}{view.Transcript()}");
            string[] errors = [.. view.Stderr.Where(l => l.StartsWith("socketcam: ", StringComparison.Ordinal))];
            Assert.True(errors.Length == 1, $"expected one error line{Environment.NewLine}{view.Transcript()}");
            Assert.Contains("refused", errors[0], StringComparison.Ordinal);
            AssertNoStackTrace(view);
        }
    }

    [Theory]
    [InlineData("serve")]
    [InlineData("publish")]
    [InlineData("bench")]
    public async Task Codec_help_offers_only_the_codecs_the_command_takes(string command)
    {
        // CodecId also names the wire's Opus and PCM: help must not offer what --codec refuses (H.264 it takes, issue 19).
        (int code, CliProcess help) = await CliProcess.RunAsync(_directory, ProcessTimeout, command, "--help");
        await using (help)
        {
            Assert.Equal(0, code);
            string text = string.Join('\n', help.Stdout);
            Assert.Contains("--codec <jpeg|h264|raw>", text, StringComparison.Ordinal);
            // The --codec line itself (the --audio-* options name Opus, rightly: that is what audio is sent as).
            string codecLine = Assert.Single(help.Stdout, l => l.TrimStart().StartsWith("-c, --codec ", StringComparison.Ordinal) || l.TrimStart().StartsWith("--codec ", StringComparison.Ordinal));
            Assert.DoesNotContain("Opus", codecLine, StringComparison.Ordinal);
            Assert.DoesNotContain("PCM", codecLine, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task Help_lists_every_command()
    {
        (int code, CliProcess help) = await CliProcess.RunAsync(_directory, ProcessTimeout, "--help");
        await using (help)
        {
            Assert.Equal(0, code);
            string text = string.Join('\n', help.Stdout);
            foreach (string command in new[] { "serve", "view", "publish", "demo", "bench" })
            {
                Assert.Matches(new Regex($@"^\s+{command}\b", RegexOptions.Multiline), text);
            }
        }
    }

    [Fact]
    public async Task Bench_prints_json_with_a_positive_fps()
    {
        (int code, CliProcess bench) = await CliProcess.RunAsync(_directory, ProcessTimeout, "bench", "--size", "320x240", "--frames", "200", "--json");
        await using (bench)
        {
            Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{bench.Transcript()}");
            JsonElement json = bench.LastJsonLine();
            Assert.True(json.GetProperty("fps").GetDouble() > 0, bench.Transcript());
            Assert.Equal("320x240", json.GetProperty("size").GetString());
            Assert.Equal("jpeg", json.GetProperty("codec").GetString());
            // Not ">= 200": "frames" counts frames published during the measurement, fewer than --frames (see report).
            Assert.True(json.GetProperty("frames").GetInt64() > 0, bench.Transcript());
            Assert.Equal(0, json.GetProperty("corrupt").GetInt64());
            AssertNoStackTrace(bench);
        }
    }

    [Fact]
    public async Task Bench_participants_measures_every_subscription_of_a_call_with_its_sound_against_a_serve_child()
    {
        (int code, CliProcess bench) = await CliProcess.RunAsync(_directory, ProcessTimeout,
            "bench", "--participants", "3", "--size", "320x180", "--frames", "30", "--audio", "--json");
        await using (bench)
        {
            Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{bench.Transcript()}");
            JsonElement json = bench.LastJsonLine();
            Assert.Equal(6, json.GetProperty("subscriptions").GetInt32()); // 3 × 2: nobody watches itself
            Assert.Equal("320x180", json.GetProperty("size").GetString());
            // It measures until the slowest of the 6 subscriptions has 30 frames, so all of them have at least that many.
            Assert.True(json.GetProperty("frames_received").GetInt64() >= 6 * 30, bench.Transcript());
            Assert.True(json.GetProperty("fps").GetDouble() > 0, bench.Transcript());
            Assert.True(json.GetProperty("latency_ms").GetProperty("p50").GetDouble() > 0, bench.Transcript());
            Assert.True(json.GetProperty("hub_cpu_pct").GetDouble() > 0, bench.Transcript()); // the hub is a process of its own

            // --audio: everyone's Opus track reaches the other two, is played through their jitter buffers, and is timed.
            long sent = json.GetProperty("audio_packets_sent").GetInt64();
            Assert.True(sent > 0 && json.GetProperty("audio_packets_received").GetInt64() >= sent, bench.Transcript());
            Assert.True(json.GetProperty("audio_concealed_share").GetDouble() <= 0.05, bench.Transcript());
            Assert.True(json.GetProperty("audio_played_p50_ms").GetDouble() > json.GetProperty("audio_transit_p50_ms").GetDouble(), bench.Transcript());
            Assert.True(json.GetProperty("audio_encode_us_per_packet").GetDouble() > 0 && json.GetProperty("audio_decode_us_per_packet").GetDouble() > 0, bench.Transcript());
            AssertNoStackTrace(bench);
        }
    }

    [Fact]
    public async Task Bench_participants_needs_two_and_says_so_in_one_line()
    {
        (int code, CliProcess bench) = await CliProcess.RunAsync(_directory, ProcessTimeout, "bench", "--participants", "1");
        await using (bench)
        {
            Assert.Equal(2, code);
            Assert.Contains("--participants needs at least 2", bench.Transcript(), StringComparison.Ordinal);
            AssertNoStackTrace(bench);
        }
    }

    /// <summary>Parses "SocketCam hub listening on tcp://127.0.0.1:NNNNN" from serve's standard output.</summary>
    private static async Task<int> WaitForBannerPortAsync(CliProcess serve)
    {
        string banner = await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
        Match match = BannerPattern().Match(banner);
        Assert.True(match.Success, $"unexpected banner: {banner}");
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private async Task AssertViewGetsFramesAsync(int port)
    {
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout,
            "view", $"tcp://127.0.0.1:{port}", "--frames", "10", "--json", "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.True(code == 0, $"view exit code {code}{Environment.NewLine}{view.Transcript()}");
            JsonElement json = view.LastJsonLine();
            Assert.True(json.GetProperty("frames").GetInt64() >= 10);
            Assert.Equal(320, json.GetProperty("width").GetInt32());
            Assert.Equal(240, json.GetProperty("height").GetInt32());
        }
    }

    private static void AssertNoStackTrace(CliProcess process)
    {
        Assert.False(process.Stderr.Concat(process.Stdout).Any(l => l.Contains("   at ", StringComparison.Ordinal)), $"a stack trace was printed{Environment.NewLine}{process.Transcript()}");
    }

    [GeneratedRegex(@"^SocketCam hub listening on tcp://127\.0\.0\.1:(\d+)$")]
    private static partial Regex BannerPattern();
}
