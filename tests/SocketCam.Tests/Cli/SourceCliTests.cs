using SocketCam.Sources;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Cli;

/// <summary>`serve --source ...`, `snapshot` and `devices` as a user runs them.</summary>
[Collection(NetworkCollection.Name)]
public sealed class SourceCliTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-srccli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Serve_from_lavfi_then_snapshot_saves_the_hubs_jpeg_and_a_png()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--source", "lavfi:testsrc2=size=320x240:rate=30", "--quiet");
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
        string url = banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();
        string room = await serve.WaitForStdoutLineAsync(l => l.Contains("room 'main'", StringComparison.Ordinal), ProcessTimeout);
        Assert.Contains("lavfi:testsrc2=size=320x240:rate=30 320x240", room, StringComparison.Ordinal);
        Assert.Contains("passed through", room, StringComparison.Ordinal);

        string jpg = Path.Combine(_directory, "one.jpg");
        (int code, CliProcess snap) = await CliProcess.RunAsync(_directory, ProcessTimeout, "snapshot", url, jpg);
        await using (snap)
        {
            Assert.True(code == 0, snap.Transcript());
            Assert.Contains(snap.Stdout, l => l.Contains("320x240", StringComparison.Ordinal));
        }

        byte[] jpeg = await File.ReadAllBytesAsync(jpg);
        Assert.Equal([0xFF, 0xD8], jpeg[..2]);
        Assert.Contains("Lavc", System.Text.Encoding.ASCII.GetString(jpeg), StringComparison.Ordinal); // ffmpeg's own JPEG, saved as is

        string png = Path.Combine(_directory, "one.png");
        (code, snap) = await CliProcess.RunAsync(_directory, ProcessTimeout, "snapshot", url, png);
        await using (snap)
        {
            Assert.True(code == 0, snap.Transcript());
        }

        (int probe, byte[] dims, string err) = await MediaTools.RunAsync("ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", png);
        Assert.True(probe == 0, err);
        Assert.Equal("320,240", System.Text.Encoding.ASCII.GetString(dims).Trim());
    }

    [Fact]
    public async Task Snapshot_with_nothing_publishing_says_so_and_fails()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--source", "none", "--quiet");
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
        string url = banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();
        (int code, CliProcess snap) = await CliProcess.RunAsync(_directory, ProcessTimeout, "snapshot", url, Path.Combine(_directory, "x.png"), "--timeout", "1");
        await using (snap)
        {
            Assert.Equal(1, code);
            Assert.Contains(snap.Stderr, l => l.StartsWith("socketcam: no frame arrived within 1 s", StringComparison.Ordinal));
            Assert.False(File.Exists(Path.Combine(_directory, "x.png")));
        }
    }

    [Fact]
    public async Task Missing_ffmpeg_is_one_line_naming_the_package()
    {
        // A PATH without ffmpeg (dotnet itself is started by full path lookup in this process).
        var environment = new Dictionary<string, string> { ["PATH"] = _directory };
        await using CliProcess cli = CliProcess.StartWithEnvironment(_directory, environment, "serve", "--listen", "127.0.0.1:0", "--source", "lavfi:testsrc2");
        int code = await cli.WaitForExitAsync(ProcessTimeout);
        Assert.Equal(1, code);
        string[] errors = [.. cli.Stderr.Where(l => l.Length > 0)];
        Assert.Single(errors);
        Assert.Equal("socketcam: ffmpeg was not found: install it (sudo apt-get install ffmpeg), or use --source pattern for the built-in test pattern.", errors[0]);
    }

    [Theory]
    [InlineData("file:/no/such/video.mp4", "--source file:/no/such/video.mp4: no such file.")]
    [InlineData("bogus:thing", "Unknown source 'bogus:thing'")]
    [InlineData("lavfi:", "--source lavfi: needs a filter graph")]
    [InlineData("holiday.mp4", "--source holiday.mp4: no such file")]
    public async Task A_bad_source_spec_is_one_line_and_exit_code_2(string spec, string message)
    {
        (int code, CliProcess cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, "serve", "--listen", "127.0.0.1:0", "--source", spec);
        await using (cli)
        {
            Assert.True(code == 2, cli.Transcript());
            string[] errors = [.. cli.Stderr.Where(l => l.Length > 0)];
            Assert.Single(errors);
            Assert.StartsWith("socketcam: " + message, errors[0], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_source_that_cannot_start_is_reported_at_once()
    {
        (int code, CliProcess cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, "serve", "--listen", "127.0.0.1:0", "--source", "screen::77");
        await using (cli)
        {
            Assert.True(code == 1, cli.Transcript());
            string error = Assert.Single(cli.Stderr, l => l.StartsWith("socketcam: ", StringComparison.Ordinal));
            Assert.StartsWith("socketcam: cannot capture from screen::77: ffmpeg exited with code", error, StringComparison.Ordinal);
            Assert.Contains("screen:DISPLAY", error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Serve_without_a_camera_says_it_uses_the_test_pattern()
    {
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--quiet");
        await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), ProcessTimeout);
        Assert.Contains(serve.Stdout, l => l.Contains("no camera found (/dev/video*): using the built-in test pattern", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Devices_without_cameras_says_what_to_use_instead()
    {
        (int code, CliProcess cli) = await CliProcess.RunAsync(_directory, ProcessTimeout, "devices");
        await using (cli)
        {
            Assert.Equal(0, code);
            Assert.Contains(cli.Stdout, l => l.StartsWith("No cameras found", StringComparison.Ordinal));
            // This machine has no sound card either (no /dev/snd capture node, no PulseAudio).
            Assert.Contains(cli.Stdout, l => l.StartsWith("No microphones found", StringComparison.Ordinal) && l.Contains("--audio lavfi:sine", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Publish_without_a_source_says_which_it_sends_and_a_bare_path_is_a_file_source()
    {
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-frames:v", "10", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", Path.Combine(_directory, "clip.mp4"));
        await using TestHub hub = TestHub.Start(captureRoom: null);

        // Like serve and call: the first camera when there is one, else the test pattern, and it says which.
        (int code, CliProcess publish) = await CliProcess.RunAsync(_directory, ProcessTimeout, "publish", hub.Url, "--room", "auto", "--seconds", "1", "--quiet");
        await using (publish)
        {
            Assert.True(code == 0, publish.Transcript());
            string said = Assert.Single(publish.Stderr, l => l.StartsWith("socketcam: ", StringComparison.Ordinal));
            Assert.Equal(
                CameraDevices.List().FirstOrDefault() is { } camera
                    ? $"socketcam: using the first camera, {camera}; pick another with --source"
                    : "socketcam: no camera found (/dev/video*): using the built-in test pattern; pick one with --source",
                said);
        }

        // `--source clip.mp4`, relative to the working directory, as a person types it: no file: prefix needed.
        (code, publish) = await CliProcess.RunAsync(_directory, ProcessTimeout, "publish", hub.Url, "--room", "clip", "--source", "clip.mp4", "--fps", "0", "--quiet");
        await using (publish)
        {
            Assert.True(code == 0, publish.Transcript());
            Assert.Contains(publish.Stderr, l => l.StartsWith("Sent 10 frames", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Publish_from_a_file_feeds_a_room_and_exits_when_the_file_ends()
    {
        string file = Path.Combine(_directory, "clip.mp4");
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-frames:v", "20", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", file);
        await using TestHub hub = TestHub.Start(captureRoom: null);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, room: "clip", reconnect: true);
        // An unpaced 20-frame file is sent in a blink: the viewer must be in the room before the publisher starts.
        await Eventually.UntilAsync(() => hub.Server.Rooms.Any(r => r.Name == "clip" && r.ViewerCount > 0), "the viewer has joined room 'clip'");
        (int code, CliProcess publish) = await CliProcess.RunAsync(_directory, ProcessTimeout, "publish", hub.Url, "--room", "clip", "--source", "file:" + file, "--fps", "0", "--quiet");
        await using (publish)
        {
            Assert.True(code == 0, publish.Transcript());
            Assert.Contains(publish.Stderr, l => l.StartsWith("Sent 20 frames", StringComparison.Ordinal));
        }

        // The last frames may still be on their way to the viewer (or being decoded) when the publisher has exited.
        await Eventually.UntilAsync(() => viewer.Decoded >= 1, "the viewer saw nothing");
        Assert.Equal(160, viewer.Stats.Width);
        Assert.Equal(120, viewer.Stats.Height);
    }
}
