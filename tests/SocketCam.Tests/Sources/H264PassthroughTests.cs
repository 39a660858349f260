using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Codecs;
using SocketCam.Codecs.H264;
using SocketCam.Media;
using SocketCam.Sources;
using SocketCam.Sources.Ffmpeg;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Sources;

/// <summary>--codec h264 with a file that already is H.264: its access units are what the capture pipeline publishes, as they are, or, when they cannot be, it is decoded.</summary>
public sealed class H264PassthroughTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-h264src-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task An_h264_mp4_is_captured_as_its_own_access_units_with_keyframes_flagged_and_the_file_loops()
    {
        string mp4 = await MakeMp4Async("in.mp4", bFrames: 0);
        // What the file holds, split by our splitter: the bytes the capture must hand the room.
        (int code, byte[] annexB, string errors) = await MediaTools.RunAsync("ffmpeg", "-v", "error", "-i", mp4, "-c:v", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", "-");
        Assert.True(code == 0, errors);
        List<(byte[] Unit, H264AccessUnitInfo Info)> expected = await H264Media.SplitAsync(annexB);
        Assert.Equal(20, expected.Count);

        var logs = new CapturingLoggerProvider();
        await using var source = new FfmpegSource(SourceSpec.Parse("file:" + mp4), new SourceOptions { Codec = CodecId.H264, Loop = true }, logs.CreateLogger("test"));
        await source.OpenAsync(CancellationToken.None);
        Assert.Equal(CodecId.H264, source.ProvidedCodec);
        Assert.Equal(30, source.Fps, 3); // paced at the file's own rate, as decoded files are
        Assert.True(FrameEncoding.IsPassthrough(source, CodecId.H264));

        // What the capture pipeline does for each frame: no encoder is called (it would throw).
        using var encoder = new NoEncoder();
        var frames = new List<(FrameInfo Info, byte[] Data)>();
        for (int i = 0; i < 30; i++)
        {
            MediaFrame frame = (await FrameEncoding.ReadAsync(source, encoder, CancellationToken.None))!;
            frames.Add((frame.Header, frame.Payload.ToArray()));
            frame.Release();
        }

        // 30 frames: the file's 20, then (it loops) its first 10 again, byte for byte, keyframes where the file has them.
        for (int i = 0; i < 30; i++)
        {
            (byte[] unit, H264AccessUnitInfo info) = expected[i % 20];
            Assert.Equal(CodecId.H264, frames[i].Info.Codec);
            Assert.True(unit.AsSpan().SequenceEqual(frames[i].Data), $"frame {i} differs from the file's access unit {i % 20}");
            Assert.Equal(info.IsIdr, frames[i].Info.IsKeyframe);
            Assert.Equal((320, 180), (frames[i].Info.Width, frames[i].Info.Height));
        }

        Assert.Equal([0, 10, 20], frames.Select((f, i) => (f, i)).Where(x => x.f.Info.IsKeyframe).Select(x => x.i));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 220);
    }

    [Fact]
    public async Task A_file_with_b_frames_is_decoded_instead_and_one_line_says_why()
    {
        string mp4 = await MakeMp4Async("bframes.mp4", bFrames: 2);
        var logs = new CapturingLoggerProvider();
        await using var source = new FfmpegSource(SourceSpec.Parse("file:" + mp4), new SourceOptions { Codec = CodecId.H264 }, logs.CreateLogger("test"));
        await source.OpenAsync(CancellationToken.None);

        Assert.Null(source.ProvidedCodec);
        LogEntry line = Assert.Single(logs.Entries, e => e.EventId.Id == 220);
        Assert.Contains("B-frames", line.Message, StringComparison.Ordinal);
        using VideoFrame? picture = await source.ReadFrameAsync(CancellationToken.None);
        Assert.Equal((320, 180), (picture!.Width, picture.Height));
    }

    [Fact]
    public void Ffprobes_answer_is_read_and_judged()
    {
        VideoStreamInfo info = VideoProbe.Parse("codec_name=h264\nr_frame_rate=30/1\navg_frame_rate=30000/1001\npix_fmt=yuv420p\nhas_b_frames=0\n")!;
        Assert.Equal(("h264", 0, "yuv420p"), (info.Codec, info.HasBFrames, info.PixelFormat));
        Assert.Equal(29.97, info.Fps, 2);
        Assert.Null(info.H264PassthroughRefusal());
        Assert.Contains("B-frames", (info with { HasBFrames = 2 }).H264PassthroughRefusal(), StringComparison.Ordinal);
        Assert.Contains("hevc", (info with { Codec = "hevc" }).H264PassthroughRefusal(), StringComparison.Ordinal);
        Assert.Contains("yuv444p", (info with { PixelFormat = "yuv444p" }).H264PassthroughRefusal(), StringComparison.Ordinal);
        Assert.Null(VideoProbe.Parse(""));
    }

    [Fact]
    public async Task A_lavfi_graph_with_h264_wanted_is_decoded_rather_than_made_into_jpegs_first()
    {
        await using var source = new FfmpegSource(SourceSpec.Parse("lavfi:testsrc2=size=160x120:rate=30"), new SourceOptions { Codec = CodecId.H264 }, NullLogger.Instance);
        Assert.Null(source.ProvidedCodec);
        await using var jpeg = new FfmpegSource(SourceSpec.Parse("lavfi:testsrc2=size=160x120:rate=30"), new SourceOptions(), NullLogger.Instance);
        Assert.Equal(CodecId.Jpeg, jpeg.ProvidedCodec);
    }

    private async Task<string> MakeMp4Async(string name, int bFrames)
    {
        string path = Path.Combine(_directory, name);
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-frames:v", "20",
            "-c:v", "libx264", "-preset", "ultrafast", "-bf", bFrames.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-g", "10", "-pix_fmt", "yuv420p", path);
        return path;
    }

    /// <summary>Stands in for the H.264 encoder: pass-through never calls it.</summary>
    private sealed class NoEncoder : IFrameEncoder
    {
        public CodecId Codec => CodecId.H264;

        public int MaxEncodedSize(int width, int height) => throw new InvalidOperationException("pass-through encodes nothing");

        public int Encode(VideoFrame frame, Span<byte> destination) => throw new InvalidOperationException("pass-through encodes nothing");

        public void Dispose()
        {
        }
    }
}
