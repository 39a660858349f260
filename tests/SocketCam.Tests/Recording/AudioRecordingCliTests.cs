using System.Globalization;
using System.Text.Json;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Recording;

/// <summary>
/// Recordings keep the sound of a call, as a user makes them: a real `serve`, `publish --audio lavfi:sine=frequency=440`
/// with a test pattern, and `view --record` or `serve --record`; ffprobe and ffmpeg read the files back.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class AudioRecordingCliTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-arec-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("call.mkv", "mjpeg")]
    [InlineData("call.mp4", "h264")]
    public async Task View_record_keeps_the_watched_participants_opus_audio_in_sync_with_the_video(string file, string videoCodec)
    {
        await using CliProcess serve = StartServe();
        string url = await HubUrlAsync(serve);
        await using CliProcess publish = CliProcess.Start(_directory, "publish", url, "--source", "pattern", "--size", "320x240", "--fps", "25", "--audio", "lavfi:sine=frequency=440", "--quiet");
        await TrackLineAsync(publish);

        string path = Path.Combine(_directory, file);
        (int code, CliProcess view) = await CliProcess.RunAsync(_directory, Wait, "view", url, "--record", path, "--seconds", "6", "--no-window", "--quiet", "--json");
        await using (view)
        {
            Assert.True(code == 0, view.Transcript());
            JsonElement recorded = view.LastJsonLine().GetProperty("recorded");
            Assert.Equal(JsonValueKind.Null, recorded.GetProperty("error").ValueKind);
            long packets = recorded.GetProperty("audio_packets").GetInt64();
            Assert.True(packets >= 150, $"{packets} audio packets recorded{Environment.NewLine}{view.Transcript()}");
            Assert.Contains(view.Stderr, l => l.StartsWith("recorded ", StringComparison.Ordinal) && l.EndsWith($" with {packets} audio packets", StringComparison.Ordinal));
        }

        await AssertCallRecordingAsync(path, videoCodec);
    }

    [Fact]
    public async Task Serve_record_keeps_the_publishers_audio_with_its_video()
    {
        string directory = Path.Combine(_directory, "recordings");
        await using CliProcess serve = StartServe("--record", directory, "--record-format", "mkv");
        string url = await HubUrlAsync(serve);
        await using (CliProcess publish = CliProcess.Start(_directory, "publish", url, "--source", "pattern", "--size", "320x240", "--fps", "25", "--audio", "lavfi:sine=frequency=440", "--seconds", "5", "--quiet"))
        {
            await TrackLineAsync(publish);
            Assert.True(await publish.WaitForExitAsync(Wait) == 0, publish.Transcript());
        }

        await serve.InterruptAsync();
        Assert.True(await serve.WaitForExitAsync(Wait) == 0, serve.Transcript());
        Assert.Contains(serve.Stderr, l => l.StartsWith("recorded ", StringComparison.Ordinal) && l.Contains(" audio packets", StringComparison.Ordinal));
        string recording = Assert.Single(Directory.GetFiles(directory));
        Assert.Matches(@"^main-\d{8}-\d{6}\.mkv$", Path.GetFileName(recording));
        await AssertCallRecordingAsync(recording, "mjpeg");
    }

    /// <summary>Video and an Opus track; the audio is the 440 Hz tone; both tracks cover the same time.</summary>
    private static async Task AssertCallRecordingAsync(string path, string videoCodec)
    {
        var streams = await MediaProbe.StreamsAsync(path);
        Assert.Equal(2, streams.Count);
        Assert.Equal(("video", videoCodec), (streams[0].Type, streams[0].Codec));
        Assert.Equal(("audio", "opus", 1, 48_000), (streams[1].Type, streams[1].Codec, streams[1].Channels, streams[1].SampleRate));

        short[] pcm = await MediaProbe.DecodeAudioAsync(path);
        Assert.True(pcm.Length > 48_000 * 3, $"{pcm.Length / 48_000.0:0.00} s of audio");
        Assert.Equal(440, WavAnalysis.DominantFrequency(pcm[12_000..], 48_000), 0);

        (double videoStart, double videoEnd, int frames) = await MediaProbe.StreamSpanAsync(path, "v:0");
        (double audioStart, double audioEnd, _) = await MediaProbe.StreamSpanAsync(path, "a:0");
        string spans = string.Create(CultureInfo.InvariantCulture, $"video {videoStart:0.000}-{videoEnd:0.000} s ({frames} frames), audio {audioStart:0.000}-{audioEnd:0.000} s");
        Assert.True(frames >= 30, spans);
        Assert.True(Math.Abs((videoEnd - videoStart) - (audioEnd - audioStart)) <= 0.1, spans);
        Assert.True(Math.Abs(videoStart - audioStart) <= 0.1, spans);
    }

    private CliProcess StartServe(params string[] extra) =>
        CliProcess.Start(_directory, ["serve", "--listen", "127.0.0.1:0", "--udp", "off", "--source", "none", "--data", Path.Combine(_directory, "data"), "--quiet", .. extra]);

    private static async Task TrackLineAsync(CliProcess publish)
    {
        await Eventually.UntilAsync(() => publish.Stderr.Any(l => l.Contains("track 2:", StringComparison.Ordinal)) || publish.HasExited, "publish describing its audio track", Wait);
        Assert.Single(publish.Stderr, l => l.Contains("track 2:", StringComparison.Ordinal));
    }

    private static async Task<string> HubUrlAsync(CliProcess serve)
    {
        string banner = await serve.WaitForStdoutLineAsync(l => l.Contains("hub listening on tcp://", StringComparison.Ordinal), Wait);
        return banner[banner.IndexOf("tcp://", StringComparison.Ordinal)..].Trim();
    }
}
