using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Protocol;
using SocketCam.Recording;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Recording;

/// <summary>Each recorder writes a file that the real ffprobe reads back with every frame in it.</summary>
public sealed class RecorderFileTests : IDisposable
{
    private const long StartMicros = 1_700_000_000_000_000;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-rec-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task An_mjpeg_file_holds_every_frame_and_ffprobe_counts_them()
    {
        List<byte[]> jpegs = TestMedia.EncodePattern(160, 120, 25);
        string path = Path.Combine(_directory, "out.mjpeg");

        await using (MjpegFileRecorder recorder = MjpegFileRecorder.Create(path, overwrite: false))
        {
            for (int i = 0; i < jpegs.Count; i++)
            {
                await recorder.WriteAsync(Frame(jpegs[i], 160, 120, i, StartMicros + (i * 33_333)), CancellationToken.None);
            }

            await recorder.CompleteAsync(CancellationToken.None);
            Assert.Equal(25, recorder.FramesWritten);
            Assert.Equal(jpegs.Sum(j => (long)j.Length), recorder.BytesWritten);
        }

        // The file is exactly the JPEGs, back to back.
        Assert.Equal(jpegs.SelectMany(j => j).ToArray(), await File.ReadAllBytesAsync(path));
        ProbeResult probe = await MediaProbe.ProbeAsync(path, "mjpeg");
        Assert.Equal(new ProbeResult("mjpeg", 25, 160, 120), probe);
    }

    [Theory]
    [InlineData("out.mkv", "mjpeg")]
    [InlineData("out.mp4", "h264")]
    public async Task Ffmpeg_muxes_every_frame_with_its_capture_time(string file, string codec)
    {
        List<byte[]> jpegs = TestMedia.EncodePattern(160, 120, 30);
        string path = Path.Combine(_directory, file);
        // A stream whose rate varies: 30 fps, then a 2 s gap (the hub skipped frames, the source stalled), then 10 fps.
        long[] offsetsMs = [.. Enumerable.Range(0, 30).Select(i => i < 20 ? i * 33L : 2_660 + ((i - 20) * 100L))];

        await using (IFrameRecorder recorder = FrameRecorders.Create(RecordingFormats.FromPath(path), path, new RecordingOptions(), overwrite: false, NullLogger.Instance))
        {
            for (int i = 0; i < jpegs.Count; i++)
            {
                await recorder.WriteAsync(Frame(jpegs[i], 160, 120, i, StartMicros + (offsetsMs[i] * 1000)), CancellationToken.None);
            }

            await recorder.CompleteAsync(CancellationToken.None);
            Assert.Equal(30, recorder.FramesWritten);
            Assert.Equal(new FileInfo(path).Length, recorder.BytesWritten);
        }

        ProbeResult probe = await MediaProbe.ProbeAsync(path);
        Assert.Equal(new ProbeResult(codec, 30, 160, 120), probe);

        // Every frame keeps its own time (relative to the first), to the millisecond.
        List<double> times = await MediaProbe.PacketTimesAsync(path);
        Assert.Equal(30, times.Count);
        for (int i = 0; i < times.Count; i++)
        {
            Assert.True(Math.Abs((times[i] - times[0]) - (offsetsMs[i] / 1000.0)) < 0.0015, $"frame {i} at {times[i] - times[0]:0.000} s, captured at {offsetsMs[i] / 1000.0:0.000} s");
        }
    }

    [Fact]
    public async Task An_mp4_keeps_every_frame_when_the_stream_changes_size_midway()
    {
        List<byte[]> small = TestMedia.EncodePattern(161, 121, 10); // odd sizes too: H.264 4:2:0 needs even ones
        List<byte[]> large = TestMedia.EncodePattern(320, 240, 10);
        string path = Path.Combine(_directory, "resized.mp4");

        await using (IFrameRecorder recorder = FrameRecorders.Create(RecordingFormat.Mp4, path, new RecordingOptions(), overwrite: false, NullLogger.Instance))
        {
            int i = 0;
            foreach ((byte[] jpeg, int w, int h) in small.Select(j => (j, 161, 121)).Concat(large.Select(j => (j, 320, 240))))
            {
                await recorder.WriteAsync(Frame(jpeg, w, h, i, StartMicros + (i * 40_000L)), CancellationToken.None);
                i++;
            }

            await recorder.CompleteAsync(CancellationToken.None);
        }

        Assert.Equal(new ProbeResult("h264", 20, 160, 120), await MediaProbe.ProbeAsync(path));
    }

    [Fact]
    public async Task Raw_frames_are_compressed_to_jpeg_and_recorded()
    {
        List<byte[]> raw = TestMedia.EncodePattern(160, 120, 12, CodecId.RawBgr24);
        string path = Path.Combine(_directory, "raw.mjpeg");
        var sink = RecordingSink.Start("raw test", MjpegFileRecorder.Create(path, overwrite: false), new RecordingOptions(), NullLogger.Instance);
        await using (sink)
        {
            for (int i = 0; i < raw.Count; i++)
            {
                MediaFrame frame = Shared(raw[i], CodecId.RawBgr24, 160, 120, i);
                Assert.True(await sink.EnqueueAsync(frame, CancellationToken.None));
                frame.Release();
            }

            await sink.CompleteAsync();
            Assert.Null(sink.Failure);
            Assert.Equal(12, sink.FramesRecorded);
        }

        Assert.Equal(new ProbeResult("mjpeg", 12, 160, 120), await MediaProbe.ProbeAsync(path, "mjpeg"));
    }

    [Fact]
    public async Task A_frame_that_is_not_a_valid_jpeg_is_left_out_and_the_rest_recorded()
    {
        List<byte[]> jpegs = TestMedia.EncodePattern(160, 120, 5);
        jpegs[2] = jpegs[2][..^100]; // truncated: no EOI
        string path = Path.Combine(_directory, "damaged.mjpeg");
        var sink = RecordingSink.Start("damaged test", MjpegFileRecorder.Create(path, overwrite: false), new RecordingOptions(), NullLogger.Instance);
        await using (sink)
        {
            for (int i = 0; i < jpegs.Count; i++)
            {
                MediaFrame frame = Shared(jpegs[i], CodecId.Jpeg, 160, 120, i);
                await sink.EnqueueAsync(frame, CancellationToken.None);
                frame.Release();
            }

            await sink.CompleteAsync();
            Assert.Equal(4, sink.FramesRecorded);
            Assert.Equal(1, sink.FramesSkipped);
        }

        Assert.Equal(4, (await MediaProbe.ProbeAsync(path, "mjpeg")).Frames);
    }

    [Fact]
    public async Task A_recording_with_no_frames_leaves_no_file()
    {
        string mjpeg = Path.Combine(_directory, "empty.mjpeg");
        string mkv = Path.Combine(_directory, "empty.mkv");
        foreach (string path in new[] { mjpeg, mkv })
        {
            await using IFrameRecorder recorder = FrameRecorders.Create(RecordingFormats.FromPath(path), path, new RecordingOptions(), overwrite: false, NullLogger.Instance);
            Assert.True(File.Exists(path), "the file is claimed when the recording starts");
            await recorder.CompleteAsync(CancellationToken.None);
            Assert.False(File.Exists(path));
        }
    }

    [Fact]
    public async Task Rotation_by_capture_time_starts_a_new_file_between_frames()
    {
        List<byte[]> jpegs = TestMedia.EncodePattern(160, 120, 10);
        var options = new RecordingOptions { MaxFileBytes = 0, MaxFileDuration = TimeSpan.FromMilliseconds(300) };
        int opened = 0;
        var recorder = new RotatingRecorder("test", _ => MjpegFileRecorder.Create(Path.Combine(_directory, $"part{++opened}.mjpeg"), overwrite: false), options, NullLogger.Instance);
        await using (recorder)
        {
            for (int i = 0; i < jpegs.Count; i++)
            {
                await recorder.WriteAsync(Frame(jpegs[i], 160, 120, i, StartMicros + (i * 100_000L)), CancellationToken.None);
            }

            await recorder.CompleteAsync(CancellationToken.None);
            Assert.Equal(10, recorder.FramesWritten);
        }

        // Frames 100 ms apart, 300 ms per file: 0-200, 300-500, 600-800, 900.
        string[] files = [.. recorder.Files];
        Assert.Equal(4, files.Length);
        int[] counts = await Task.WhenAll(files.Select(async f => (await MediaProbe.ProbeAsync(f, "mjpeg")).Frames));
        Assert.Equal([3, 3, 3, 1], counts);
    }

    [Fact]
    public async Task Rotation_by_size_never_lets_an_mjpeg_file_pass_the_limit()
    {
        List<byte[]> jpegs = TestMedia.EncodePattern(160, 120, 20);
        long limit = jpegs.Take(4).Sum(j => (long)j.Length) + 10; // about four frames a file
        var options = new RecordingOptions { MaxFileBytes = limit, MaxFileDuration = TimeSpan.Zero };
        int opened = 0;
        var recorder = new RotatingRecorder("test", _ => MjpegFileRecorder.Create(Path.Combine(_directory, $"part{++opened}.mjpeg"), overwrite: false), options, NullLogger.Instance);
        await using (recorder)
        {
            for (int i = 0; i < jpegs.Count; i++)
            {
                await recorder.WriteAsync(Frame(jpegs[i], 160, 120, i, StartMicros + (i * 33_333L)), CancellationToken.None);
            }

            await recorder.CompleteAsync(CancellationToken.None);
        }

        Assert.True(recorder.Files.Count >= 4, $"{recorder.Files.Count} files");
        int total = 0;
        foreach (string file in recorder.Files)
        {
            Assert.InRange(new FileInfo(file).Length, 1, limit);
            total += (await MediaProbe.ProbeAsync(file, "mjpeg")).Frames;
        }

        Assert.Equal(20, total);
    }

    [Fact]
    public void Only_mjpeg_mkv_and_mp4_file_names_are_accepted()
    {
        Assert.Equal(RecordingFormat.Mjpeg, RecordingFormats.FromPath("a/b.MJPEG"));
        Assert.Equal(RecordingFormat.Mjpeg, RecordingFormats.FromPath("b.mjpg"));
        Assert.Equal(RecordingFormat.Matroska, RecordingFormats.FromPath("b.mkv"));
        Assert.Equal(RecordingFormat.Mp4, RecordingFormats.FromPath("b.mp4"));
        Assert.Throws<ArgumentException>(() => RecordingFormats.FromPath("b.avi"));
        Assert.Throws<ArgumentException>(() => RecordingFormats.FromPath("mjpeg"));
    }

    private static JpegFrame Frame(byte[] jpeg, int width, int height, long sequence, long captureMicros) =>
        new(jpeg, width, height, sequence, captureMicros);

    private static MediaFrame Shared(byte[] data, CodecId codec, int width, int height, long sequence)
    {
        MediaFrame frame = MediaFrame.Rent(data.Length);
        data.CopyTo(frame.WritableData);
        frame.Complete(new VideoFrameHeader(codec, width, height, sequence, StartMicros + (sequence * 33_333)), data.Length);
        return frame;
    }
}
