using System.Text.Json;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Cli;

/// <summary>`serve --codec h264` as a user runs it: H.264 to a v2 viewer, JPEG to a v1 viewer, an .mp4 recording copied, not re-encoded.</summary>
[Collection(NetworkCollection.Name)]
public sealed class H264CliTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(40);
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-h264-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Serve_codec_h264_reaches_v2_viewers_as_H264_v1_viewers_as_JPEG_and_its_recording_holds_every_frame()
    {
        string recordings = Path.Combine(_directory, "recordings");
        await using CliProcess serve = CliProcess.Start(_directory, "serve", "--listen", "127.0.0.1:0", "--udp", "off", "--http", "off", "--source", "pattern",
            "--size", "320x240", "--fps", "15", "--codec", "h264", "--keyint", "15", "--record", recordings, "--record-format", "mp4",
            "--data", Path.Combine(_directory, "data"), "--quiet");
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), Wait);
        string url = banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();
        await serve.WaitForStdoutLineAsync(l => l.Contains("sent as h264", StringComparison.Ordinal), Wait);

        JsonElement v2 = await ViewAsync(url, "--participant", "hub");
        JsonElement v1 = await ViewAsync(url);

        Assert.Equal("h264", v2.GetProperty("codec").GetString());
        Assert.Equal("jpeg", v1.GetProperty("codec").GetString());
        Assert.True(v2.GetProperty("frames").GetInt64() >= 15, v2.ToString());
        Assert.True(v1.GetProperty("frames").GetInt64() >= 10, v1.ToString());
        // The same pictures, a tenth of the bytes or less.
        double v2PerFrame = v2.GetProperty("bytes").GetDouble() / v2.GetProperty("frames").GetInt64();
        double v1PerFrame = v1.GetProperty("bytes").GetDouble() / v1.GetProperty("frames").GetInt64();
        Assert.True(v2PerFrame * 5 < v1PerFrame, $"H.264 {v2PerFrame:0} bytes a frame, JPEG {v1PerFrame:0}");

        await serve.InterruptAsync();
        Assert.True(await serve.WaitForExitAsync(Wait) == 0, serve.Transcript());
        string summary = Assert.Single(serve.Stderr, l => l.StartsWith("recorded ", StringComparison.Ordinal));
        long recorded = long.Parse(summary.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        string file = Assert.Single(Directory.GetFiles(recordings));
        Assert.EndsWith(".mp4", file, StringComparison.Ordinal);
        var streams = await MediaProbe.StreamsAsync(file);
        Assert.Equal(("video", "h264"), (streams[0].Type, streams[0].Codec));
        (_, _, int packets) = await MediaProbe.StreamSpanAsync(file, "v:0");
        Assert.Equal(recorded, packets);
    }

    private async Task<JsonElement> ViewAsync(string url, params string[] extra)
    {
        await using CliProcess view = CliProcess.Start(_directory, ["view", url, "--seconds", "3", "--json", "--no-reconnect", .. extra]);
        Assert.True(await view.WaitForExitAsync(Wait) == 0, view.Transcript());
        return view.LastJsonLine();
    }
}
