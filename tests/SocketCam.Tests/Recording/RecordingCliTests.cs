using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Recording;

/// <summary>`view --record` and `serve --record` as a user runs them, including the worst ways they can end.</summary>
[Collection(NetworkCollection.Name)]
public sealed partial class RecordingCliTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-rec-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task After_kill_9_the_mjpeg_recording_plays_up_to_its_last_whole_frame()
    {
        await using TestHub hub = TestHub.Start(fps: 60);
        string path = Path.Combine(_directory, "killed.mjpeg");
        await using CliProcess view = CliProcess.Start(_directory, "view", hub.Url, "--record", path, "--quiet", "--no-reconnect");

        // A 320x240 test pattern frame is ~20 kB: wait for a few dozen frames on disk, then kill without warning.
        await Eventually.UntilAsync(() => File.Exists(path) && new FileInfo(path).Length > 400_000, $"{path} grew past 400 kB{Environment.NewLine}{view.Transcript()}");
        await view.KillAsync();

        byte[] file = await File.ReadAllBytesAsync(path);
        (List<int> whole, int trailing) = MediaProbe.SplitJpegs(file);
        Assert.True(whole.Count >= 10, $"only {whole.Count} whole frames");

        // Only the frame being written when the process died may be cut short; everything before it decodes.
        (int code, int decoded, string errors) = await MediaProbe.DecodeMjpegAsync(path);
        Assert.True(code == 0, $"ffmpeg could not read the file: {errors}");
        Assert.InRange(decoded, whole.Count, whole.Count + (trailing > 0 ? 1 : 0));
        if (trailing == 0)
        {
            Assert.True(errors.Length == 0, errors);
            Assert.Equal(whole.Count, (await MediaProbe.ProbeAsync(path, "mjpeg")).Frames);
        }
        else
        {
            // Cut at the last whole frame, the file is flawless.
            string cut = Path.Combine(_directory, "cut.mjpeg");
            await File.WriteAllBytesAsync(cut, file[..^trailing]);
            (int cutCode, int cutDecoded, string cutErrors) = await MediaProbe.DecodeMjpegAsync(cut);
            Assert.True(cutCode == 0 && cutErrors.Length == 0, cutErrors);
            Assert.Equal(whole.Count, cutDecoded);
        }
    }

    [Fact]
    public async Task Ctrl_c_finishes_an_mp4_recording_with_every_recorded_frame()
    {
        await using TestHub hub = TestHub.Start();
        string path = Path.Combine(_directory, "interrupted.mp4");
        await using CliProcess view = CliProcess.Start(_directory, "view", hub.Url, "--record", path, "--json", "--quiet", "--no-reconnect");

        await Eventually.UntilAsync(() => hub.Server.Connections.Any(c => c.FramesSent >= 30), $"the hub sent 30 frames to the viewer{Environment.NewLine}{view.Transcript()}");
        await view.InterruptAsync();
        int code = await view.WaitForExitAsync(ProcessTimeout);
        Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{view.Transcript()}");

        JsonElement recorded = view.LastJsonLine().GetProperty("recorded");
        long frames = recorded.GetProperty("frames").GetInt64();
        // Some of the 30 may still have been in the socket when Ctrl+C arrived; what was received is what counts.
        Assert.True(frames >= 10, view.Transcript());
        Assert.Equal(JsonValueKind.Null, recorded.GetProperty("error").ValueKind);
        Assert.Contains(view.Stderr, l => l.StartsWith($"recorded {frames} frames to {path}", StringComparison.Ordinal));

        // The trailer was written: ffprobe decodes exactly the frames the viewer recorded.
        Assert.Equal(new ProbeResult("h264", (int)frames, 320, 240), await MediaProbe.ProbeAsync(path));
        Assert.Equal(new FileInfo(path).Length, recorded.GetProperty("bytes").GetInt64());
    }

    [Fact]
    public async Task View_records_an_mkv_of_exactly_the_frames_it_received()
    {
        await using TestHub hub = TestHub.Start();
        string path = Path.Combine(_directory, "twenty.mkv");
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", hub.Url, "--frames", "20", "--record", path, "--json", "--quiet", "--no-reconnect");
        await using (view)
        {
            Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{view.Transcript()}");
            JsonElement json = view.LastJsonLine();
            long frames = json.GetProperty("recorded").GetProperty("frames").GetInt64();
            Assert.Equal(json.GetProperty("frames").GetInt64(), frames);
            Assert.Equal(new ProbeResult("mjpeg", (int)frames, 320, 240), await MediaProbe.ProbeAsync(path));
        }
    }

    [Theory]
    [InlineData("out.avi")]
    [InlineData("out")]
    public async Task A_record_file_of_another_kind_is_one_line_and_exit_code_2(string file)
    {
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, ProcessTimeout, "view", "tcp://127.0.0.1:1", "--record", file);
        await using (view)
        {
            Assert.True(code == 2, $"exit code {code}{Environment.NewLine}{view.Transcript()}");
            string line = Assert.Single(view.Stderr, l => l.Length > 0);
            Assert.StartsWith("socketcam: --record", line, StringComparison.Ordinal);
            Assert.Contains(".mjpeg", line, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(_directory, file)));
        }
    }

    [Fact]
    public async Task Serve_records_into_a_directory_rotating_by_size_and_every_file_plays()
    {
        const long MaxSize = 100 * 1024;
        string directory = Path.Combine(_directory, "recordings");
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--size", "320x240", "--fps", "60",
            "--record", directory, "--record-max-size", "100K", "--quiet");
        await serve.WaitForStdoutLineAsync(l => l.Contains("recording every room to " + directory, StringComparison.Ordinal), ProcessTimeout);

        // Nobody watches, yet the room is captured: the recorder is its audience.
        await Eventually.UntilAsync(() => Directory.Exists(directory) && Directory.GetFiles(directory).Length >= 4, $"4 files in {directory}{Environment.NewLine}{serve.Transcript()}");
        await serve.InterruptAsync();
        int code = await serve.WaitForExitAsync(ProcessTimeout);
        Assert.True(code == 0, $"exit code {code}{Environment.NewLine}{serve.Transcript()}");

        string summary = Assert.Single(serve.Stderr, l => l.StartsWith("recorded ", StringComparison.Ordinal));
        Match m = SummaryLine().Match(summary);
        Assert.True(m.Success, summary);
        long total = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        string[] files = [.. Directory.GetFiles(directory).Order()];
        Assert.Equal(int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), files.Length);

        long sum = 0;
        foreach (string file in files)
        {
            Assert.Matches(@"^main-\d{8}-\d{6}(-\d+)?\.mjpeg$", Path.GetFileName(file));
            Assert.InRange(new FileInfo(file).Length, 1, MaxSize);
            ProbeResult probe = await MediaProbe.ProbeAsync(file, "mjpeg");
            Assert.Equal(("mjpeg", 320, 240), (probe.Codec, probe.Width, probe.Height));
            (List<int> whole, int trailing) = MediaProbe.SplitJpegs(await File.ReadAllBytesAsync(file));
            Assert.Equal((whole.Count, 0), (probe.Frames, trailing));
            sum += probe.Frames;
        }

        Assert.Equal(total, sum);
    }

    [GeneratedRegex(@"^recorded (\d+) frames in (\d+) file\(s\)")]
    private static partial Regex SummaryLine();
}
