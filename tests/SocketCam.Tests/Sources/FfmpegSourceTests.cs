using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Codecs;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Sources;
using SocketCam.Sources.Ffmpeg;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Sources;

/// <summary>ffmpeg sources end to end: real ffmpeg child processes feeding a real hub, watched by real viewers.</summary>
[Collection(NetworkCollection.Name)]
public sealed class FfmpegSourceTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-src-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Lavfi_source_reaches_viewers_at_the_graphs_size(bool passthrough)
    {
        IFrameSource source = await OpenAsync("lavfi:testsrc2=size=352x288:rate=30", new SourceOptions { Passthrough = passthrough });
        var ffmpeg = (FfmpegSource)source;
        Assert.Equal(passthrough ? CodecId.Jpeg : null, ffmpeg.ProvidedCodec);
        await using TestHub hub = TestHub.Start(captureRoom: null);
        hub.StartCapture("main", source: source);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, hashPictures: true);
        await viewer.WaitForMoreFramesAsync(10);
        Assert.Equal(352, viewer.Stats.Width);
        Assert.Equal(288, viewer.Stats.Height);
        Assert.Equal(0, viewer.Stats.Corrupt);
        Assert.True(viewer.Hashes.Values.Distinct().Count() > 5, "testsrc2 moves: frames should differ");
    }

    [Fact]
    public async Task Passthrough_sends_ffmpegs_jpegs_unchanged()
    {
        // The JPEG a viewer receives must be byte for byte one that ffmpeg wrote: no decode, no re-encode.
        IFrameSource source = await OpenAsync("lavfi:testsrc2=size=320x240:rate=30", new SourceOptions());
        var received = new List<byte[]>();
        await using TestHub hub = TestHub.Start(captureRoom: null);
        hub.StartCapture("main", source: source);
        await using (TestViewer viewer = TestViewer.Start(hub.Endpoint, onReceived: (_, data) => { lock (received) { received.Add(data.ToArray()); } }))
        {
            await viewer.WaitForMoreFramesAsync(5);
        }

        byte[] first;
        lock (received)
        {
            first = received[0];
        }

        // ffmpeg's MJPEG encoder writes a comment segment (COM, FF FE) naming itself; libjpeg-turbo never does.
        Assert.True(IndexOf(first, [0xFF, 0xFE]) > 0, "the received JPEG has no COM segment: it was not ffmpeg's");
        Assert.Contains("Lavc", System.Text.Encoding.ASCII.GetString(first), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_source_made_by_ffmpeg_plays_at_its_own_frame_rate()
    {
        // Two files at 10 and 30 fps play side by side in one run: the ratio of frames delivered in the same time is
        // ~3 (never a wall-clock assertion).
        string slow = await MakeVideoAsync("slow.mp4", fps: 10, seconds: 4);
        string fast = await MakeVideoAsync("fast.mp4", fps: 30, seconds: 4);
        await using TestHub hub = TestHub.Start(captureRoom: null);
        hub.StartCapture("slow", source: await OpenAsync("file:" + slow, new SourceOptions { Loop = true }));
        hub.StartCapture("fast", source: await OpenAsync("file:" + fast, new SourceOptions { Loop = true }));
        await using TestViewer slowViewer = TestViewer.Start(hub.Endpoint, room: "slow");
        await using TestViewer fastViewer = TestViewer.Start(hub.Endpoint, room: "fast");
        await slowViewer.WaitForMoreFramesAsync(2);
        await fastViewer.WaitForMoreFramesAsync(2);
        long slowStart = slowViewer.Decoded;
        long fastStart = fastViewer.Decoded;
        await fastViewer.WaitForMoreFramesAsync(60);
        double ratio = (fastViewer.Decoded - fastStart) / (double)Math.Max(1, slowViewer.Decoded - slowStart);
        Assert.InRange(ratio, 2.0, 4.5);
        Assert.Equal(160, fastViewer.Stats.Width);
    }

    [Fact]
    public async Task A_file_without_loop_ends_and_the_hub_retries_it()
    {
        string file = await MakeVideoAsync("short.mp4", fps: 25, seconds: 1);
        IFrameSource source = await OpenAsync("file:" + file, new SourceOptions { Fps = 0 });
        await using TestHub hub = TestHub.Start(captureRoom: null);
        CapturePipeline capture = hub.StartCapture("main", source: source, retryDelay: TimeSpan.FromMilliseconds(100));
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint);
        await viewer.WaitForFramesAsync(60); // 25 frames per play: only a replay after the end gets this far
        Assert.True(capture.Restarts >= 2, $"restarts {capture.Restarts}");
        Assert.Contains(hub.Logs.Entries, e => e.Message.Contains("no signal (the source ended)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ffmpeg_dying_mid_stream_is_retried_and_frames_resume()
    {
        IFrameSource source = await OpenAsync("lavfi:testsrc2=size=320x240:rate=30", new SourceOptions());
        var ffmpeg = (FfmpegSource)source;
        await using TestHub hub = TestHub.Start(captureRoom: null);
        CapturePipeline capture = hub.StartCapture("main", source: source, retryDelay: TimeSpan.FromMilliseconds(100));
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint);
        await viewer.WaitForMoreFramesAsync(5);

        int pid = ffmpeg.ProcessId;
        System.Diagnostics.Process.GetProcessById(pid).Kill(); // a real SIGKILL of the real ffmpeg
        await viewer.WaitForMoreFramesAsync(15);
        Assert.NotEqual(pid, ffmpeg.ProcessId);
        Assert.True(capture.Restarts >= 1);

        // The viewer was told: NO SIGNAL with ffmpeg's reason, then live again when frames resumed.
        Assert.True(viewer.Stats.NoSignalEvents >= 1, "the viewer never saw the no-signal state");
        Assert.True(viewer.Stats.SignalLive);
        Assert.Contains(hub.Logs.Entries, e => e.Message.Contains("no signal: ffmpeg exited with code", StringComparison.Ordinal));
        Assert.Contains(hub.Logs.Entries, e => e.Message.Contains("no signal (ffmpeg exited with code", StringComparison.Ordinal));
        Assert.True(hub.Server.Rooms.Single(r => r.Name == "main").SignalLive, "the room should be live again");
    }

    [Fact]
    public async Task A_jpeg_image_is_sent_byte_for_byte()
    {
        string path = Path.Combine(_directory, "still.jpg");
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", "testsrc2=size=200x150", "-frames:v", "1", path);
        byte[] original = await File.ReadAllBytesAsync(path);
        IFrameSource source = await OpenAsync("image:" + path, new SourceOptions { Fps = 20 });
        var received = new List<byte[]>();
        await using TestHub hub = TestHub.Start(captureRoom: null);
        hub.StartCapture("main", source: source);
        await using (TestViewer viewer = TestViewer.Start(hub.Endpoint, onReceived: (_, data) => { lock (received) { received.Add(data.ToArray()); } }))
        {
            await viewer.WaitForMoreFramesAsync(3);
            Assert.Equal(200, viewer.Stats.Width);
        }

        lock (received)
        {
            Assert.All(received, frame => Assert.Equal(original, frame));
        }
    }

    [Fact]
    public async Task A_png_image_sent_raw_arrives_with_identical_pixels()
    {
        using VideoFrame picture = Codecs.TestFrames.Pattern(97, 61); // odd sizes on purpose
        string path = Path.Combine(_directory, "still.png");
        PngWriter.Save(picture, path);
        IFrameSource source = await OpenAsync("image:" + path, new SourceOptions { Fps = 20 });
        await using TestHub hub = TestHub.Start(captureRoom: null);
        hub.StartCapture("main", codec: CodecId.RawBgr24, source: source);
        await using TestViewer viewer = TestViewer.Start(hub.Endpoint, hashPictures: true);
        await viewer.WaitForMoreFramesAsync(2);
        string expected = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(picture.Pixels));
        Assert.All(viewer.Hashes.Values, hash => Assert.Equal(expected, hash));
    }

    [Fact]
    public async Task A_bad_source_is_one_clear_error_at_open()
    {
        var error = await Assert.ThrowsAsync<SocketCam.Diagnostics.UserFacingException>(() => OpenAsync("lavfi:nosuchfilter=1", new SourceOptions()));
        Assert.StartsWith("cannot capture from lavfi:nosuchfilter=1: ffmpeg exited with code", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);

        error = await Assert.ThrowsAsync<SocketCam.Diagnostics.UserFacingException>(() => OpenAsync("camera:/dev/video-none", new SourceOptions()));
        Assert.Contains("socketcam devices", error.Message, StringComparison.Ordinal);
    }

    private static async Task<IFrameSource> OpenAsync(string spec, SourceOptions options) =>
        await SourceFactory.OpenAsync(SourceSpec.Parse(spec), options, NullLoggerFactory.Instance, CancellationToken.None);

    private async Task<string> MakeVideoAsync(string name, int fps, int seconds)
    {
        string path = Path.Combine(_directory, name);
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", $"testsrc2=size=160x120:rate={fps}", "-t", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path);
        return path;
    }

    private static int IndexOf(byte[] data, byte[] pattern) => data.AsSpan().IndexOf(pattern);
}
