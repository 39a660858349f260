using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Web;

/// <summary>`socketcam serve --http` end to end, read by the real ffmpeg and by OpenCV (Debian's python3-opencv).</summary>
[Collection(NetworkCollection.Name)]
public sealed partial class HttpServeCliTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-http-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Ffmpeg_reads_30_frames_of_the_right_size_from_stream_mjpg()
    {
        (CliProcess serve, string url) = await StartServeAsync("--size", "320x240");
        await using (serve)
        {
            string output = Path.Combine(_directory, "out.mkv");
            await MediaTools.FfmpegAsync("-i", url + "/stream.mjpg", "-frames:v", "30", "-c:v", "copy", output);

            Assert.Equal(30, await MediaTools.CountFramesAsync(output));
            (int code, byte[] stdout, string stderr) = await MediaTools.RunAsync(
                "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", output);
            Assert.True(code == 0, stderr);
            Assert.Equal("mjpeg,320,240", System.Text.Encoding.ASCII.GetString(stdout).Trim());
            SeedCli.AssertNoStackTrace(serve);
        }
    }

    [Fact]
    public async Task OpenCV_VideoCapture_reads_frames_of_the_right_size()
    {
        (CliProcess serve, string url) = await StartServeAsync("--size", "352x288");
        await using (serve)
        {
            const string Script = """
                import sys, cv2
                capture = cv2.VideoCapture(sys.argv[1])
                frames = 0
                sizes = set()
                while frames < 10:
                    ok, frame = capture.read()
                    if not ok:
                        break
                    frames += 1
                    sizes.add(f"{frame.shape[1]}x{frame.shape[0]}x{frame.shape[2]}")
                print(frames, " ".join(sorted(sizes)))
                """;
            (int code, byte[] stdout, string stderr) = await MediaTools.RunAsync("/usr/bin/python3", "-c", Script, url + "/stream.mjpg");

            Assert.True(code == 0, stderr);
            Assert.Equal("10 352x288x3", System.Text.Encoding.ASCII.GetString(stdout).Trim());
        }
    }

    [Fact]
    public async Task The_token_protects_the_stream_and_the_banner_says_how_to_pass_it()
    {
        (CliProcess serve, string url) = await StartServeAsync("--size", "160x120", "--token", "s3cret");
        await using (serve)
        {
            // The banner's URLs can be pasted as printed: they carry the token itself, and the pasted one works.
            string printed = Assert.Single(serve.Stdout, l => l.Contains("/snapshot.jpg?token=", StringComparison.Ordinal));
            string snapshotUrl = printed[printed.IndexOf("http://", StringComparison.Ordinal)..].Split(' ')[0];
            Assert.EndsWith("/snapshot.jpg?token=s3cret", snapshotUrl, StringComparison.Ordinal);
            Assert.DoesNotContain(serve.Stdout, l => l.Contains("SECRET", StringComparison.Ordinal));
            using var http = new HttpClient { Timeout = TestHub.Timeout };
            using (HttpResponseMessage pasted = await http.GetAsync(snapshotUrl))
            {
                Assert.Equal(HttpStatusCode.OK, pasted.StatusCode);
            }

            using HttpResponseMessage refused = await http.GetAsync(url + "/snapshot.jpg");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            using HttpResponseMessage allowed = await http.GetAsync(url + "/snapshot.jpg?token=s3cret");
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        }
    }

    [Fact]
    public async Task Allow_origin_lets_that_site_use_the_WebSockets_and_others_get_403_and_a_bad_origin_is_a_one_line_error()
    {
        (CliProcess serve, string url) = await StartServeAsync("--size", "160x120", "--allow-origin", "http://localhost:3000", "--allow-origin", "https://cam.example");
        await using (serve)
        {
            int port = new Uri(url).Port;
            foreach ((string origin, string status) in new[] { ("http://localhost:3000", "101"), ("https://cam.example", "101"), ("http://localhost:3001", "403") })
            {
                string response = await LoopbackPeer.RawRequestAsync(IPAddress.Loopback, port, LoopbackPeer.UpgradeRequest(port, "/rooms/main/ws", origin),
                    text => text.Contains("\r\n\r\n", StringComparison.Ordinal));
                Assert.StartsWith($"HTTP/1.1 {status}", response, StringComparison.Ordinal);
            }
        }

        (int code, CliProcess bad) = await CliProcess.RunAsync(_directory, SeedCli.ProcessTimeout,
            "serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--source", "pattern", "--allow-origin", "localhost:3000/page", "--quiet");
        await using (bad)
        {
            Assert.Equal(2, code);
            string error = Assert.Single(bad.Stderr, l => l.StartsWith("socketcam: ", StringComparison.Ordinal));
            Assert.Contains("--allow-origin 'localhost:3000/page'", error, StringComparison.Ordinal);
            Assert.DoesNotContain(bad.Stdout, l => l.Contains("listening", StringComparison.Ordinal)); // refused before anything started
            SeedCli.AssertNoStackTrace(bad);
        }
    }

    [Fact]
    public async Task An_explicit_http_address_in_use_is_a_one_line_error()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        (int code, CliProcess serve) = await CliProcess.RunAsync(_directory, SeedCli.ProcessTimeout,
            "serve", "--listen", "127.0.0.1:0", "--source", "pattern", "--http", $"127.0.0.1:{port}", "--quiet");
        await using (serve)
        {
            Assert.NotEqual(0, code);
            string error = Assert.Single(serve.Stderr, l => l.StartsWith("socketcam: ", StringComparison.Ordinal));
            Assert.Contains("--http", error, StringComparison.Ordinal);
            Assert.Contains("already in use", error, StringComparison.Ordinal);
            SeedCli.AssertNoStackTrace(serve);
        }
    }

    [Fact]
    public async Task When_the_default_http_port_is_taken_serve_warns_and_runs_without_http()
    {
        // Holds 8080 for the test if it is free; if another program has it, it is taken all the same.
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            taken.Bind(new IPEndPoint(IPAddress.Any, 8080));
            taken.Listen();
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
        }

        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--source", "pattern", "--quiet");
        await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam hub listening on tcp://", StringComparison.Ordinal), SeedCli.ProcessTimeout);
        await serve.WaitForStdoutLineAsync(l => l.Contains("Ctrl+C stops the server", StringComparison.Ordinal), SeedCli.ProcessTimeout);

        Assert.Contains(serve.Stderr, l => l.StartsWith("socketcam: warning: HTTP port 8080 is already in use", StringComparison.Ordinal));
        Assert.DoesNotContain(serve.Stdout, l => l.StartsWith("SocketCam HTTP listening", StringComparison.Ordinal));
        Assert.False(serve.HasExited);
        SeedCli.AssertNoStackTrace(serve);
    }

    private async Task<(CliProcess Serve, string Url)> StartServeAsync(params string[] args)
    {
        CliProcess serve = CliProcess.Start(_directory, ["serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--source", "pattern", "--fps", "30", .. args, "--quiet"]);
        try
        {
            string line = await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam HTTP listening on http://", StringComparison.Ordinal), SeedCli.ProcessTimeout);
            Match match = HttpBanner().Match(line);
            Assert.True(match.Success, line);
            return (serve, $"http://127.0.0.1:{int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)}");
        }
        catch
        {
            await serve.DisposeAsync();
            throw;
        }
    }

    [GeneratedRegex(@"^SocketCam HTTP listening on http://127\.0\.0\.1:(\d+)$")]
    private static partial Regex HttpBanner();
}
