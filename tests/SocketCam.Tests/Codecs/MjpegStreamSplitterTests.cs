using SocketCam.Codecs;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Codecs;

public sealed class MjpegStreamSplitterTests
{
    private static readonly List<byte[]> Jpegs = TestMedia.EncodePattern(64, 48, 5);

    [Fact]
    public async Task Splits_concatenated_jpegs_exactly()
    {
        var (frames, splitter) = await SplitAsync([.. Jpegs.SelectMany(j => j)], maxReadSize: int.MaxValue);
        Assert.Equal(Jpegs.Count, frames.Count);
        for (int i = 0; i < Jpegs.Count; i++)
        {
            Assert.Equal(Jpegs[i], frames[i]);
        }

        Assert.Equal(0, splitter.DroppedFrames);
        Assert.Equal(0, splitter.SkippedBytes);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(1000)]
    public async Task Reads_split_at_any_point_give_the_same_frames(int maxReadSize)
    {
        var (frames, _) = await SplitAsync([.. Jpegs.SelectMany(j => j)], maxReadSize);
        Assert.Equal(Jpegs, frames);
    }

    [Fact]
    public async Task Skips_garbage_between_frames_and_drops_a_truncated_frame()
    {
        var rng = new Random(7);
        byte[] garbage = new byte[300];
        rng.NextBytes(garbage);
        garbage[10] = 0xFF; // stray marker-looking bytes, including a lone SOI that leads nowhere
        garbage[11] = 0xD8;
        garbage[12] = 0x12;
        byte[] truncated = Jpegs[1][..(Jpegs[1].Length / 2)];
        byte[] stream = [.. garbage, .. Jpegs[0], .. garbage, .. truncated, .. Jpegs[2], 0x00, 0xFF, .. Jpegs[3]];

        var (frames, splitter) = await SplitAsync(stream, maxReadSize: 500);

        Assert.Equal([Jpegs[0], Jpegs[2], Jpegs[3]], frames);
        Assert.True(splitter.DroppedFrames >= 2, $"dropped {splitter.DroppedFrames}"); // the lone SOI and the truncated frame
        Assert.True(splitter.SkippedBytes >= garbage.Length * 2);
    }

    [Fact]
    public async Task A_frame_cut_off_by_the_end_of_the_stream_is_dropped()
    {
        byte[] stream = [.. Jpegs[0], .. Jpegs[1][..100]];
        var (frames, splitter) = await SplitAsync(stream, maxReadSize: 64);
        Assert.Equal([Jpegs[0]], frames);
        Assert.Equal(1, splitter.DroppedFrames);
        Assert.Equal("the stream ended inside a JPEG", splitter.LastError);
    }

    [Fact]
    public async Task Frames_over_the_cap_are_dropped_and_reading_resumes()
    {
        byte[] big = TestMedia.EncodePattern(640, 480, 1)[0];
        byte[] stream = [.. Jpegs[0], .. big, .. Jpegs[1]];
        var (frames, splitter) = await SplitAsync(stream, maxReadSize: 4096, maxFrameBytes: Math.Max(Jpegs[0].Length, Jpegs[1].Length) + 10);
        Assert.Equal([Jpegs[0], Jpegs[1]], frames);
        Assert.True(splitter.DroppedFrames >= 1);
        Assert.Contains("cap", splitter.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Endless_garbage_never_grows_the_buffer_past_the_cap()
    {
        // An SOI followed by an endless "segment" (APP0 with length 0xFFFF, repeated): it never completes.
        var endless = new List<byte> { 0xFF, 0xD8 };
        for (int i = 0; i < 200; i++)
        {
            endless.AddRange([0xFF, 0xE0, 0xFF, 0xFF]);
            endless.AddRange(new byte[0xFFFF - 2]);
        }

        const int cap = 256 * 1024;
        var (frames, splitter) = await SplitAsync([.. endless, .. Jpegs[0]], maxReadSize: 65536, maxFrameBytes: cap);
        Assert.Equal([Jpegs[0]], frames);
        Assert.True(splitter.DroppedFrames >= 1);
        Assert.True(splitter.BufferCapacity <= 2 * (cap + 65536), $"the buffer grew to {splitter.BufferCapacity} bytes for a {cap}-byte cap");
        Assert.True(endless.Count > 10 * splitter.BufferCapacity, "the test stream must dwarf the buffer");
    }

    [Fact]
    public async Task Splits_ffmpegs_own_mjpeg_stream_into_the_frames_ffprobe_counts()
    {
        string path = Path.Combine(Path.GetTempPath(), $"socketcam-split-{Guid.NewGuid():N}.mjpeg");
        try
        {
            await MediaTools.FfmpegAsync("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "40", "-c:v", "mjpeg", "-f", "mjpeg", path);
            int expected = await MediaTools.CountFramesAsync(path, "-f", "mjpeg");
            var (frames, splitter) = await SplitAsync(await File.ReadAllBytesAsync(path), maxReadSize: 10_000);
            Assert.Equal(expected, frames.Count);
            Assert.Equal(40, frames.Count);
            Assert.Equal(0, splitter.DroppedFrames);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task<(List<byte[]> Frames, MjpegStreamSplitter Splitter)> SplitAsync(byte[] data, int maxReadSize, int maxFrameBytes = 1 << 20)
    {
        var splitter = new MjpegStreamSplitter(new TrickleStream(data, maxReadSize), maxFrameBytes);
        var frames = new List<byte[]>();
        while (true)
        {
            (ReadOnlyMemory<byte> jpeg, int width, int height) = await splitter.ReadFrameAsync(CancellationToken.None);
            if (jpeg.IsEmpty)
            {
                return (frames, splitter);
            }

            Assert.True(width > 0 && height > 0);
            frames.Add(jpeg.ToArray());
        }
    }

    /// <summary>A stream that returns at most <c>maxReadSize</c> bytes per read, like a pipe under load.</summary>
    private sealed class TrickleStream(byte[] data, int maxReadSize) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, maxReadSize)], cancellationToken);
    }
}
