using System.Text;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Ffmpeg;
using SocketCam.Media;
using SocketCam.Tests.Codecs;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Ffmpeg;

public sealed class Y4mReaderTests
{
    [Fact]
    public void Parses_ffmpegs_header()
    {
        Y4mHeader header = Y4mReader.ParseHeader("YUV4MPEG2 W1920 H1080 F30000:1001 Ip A1:1 C420mpeg2 XYSCSS=420MPEG2"u8);
        Assert.Equal(1920, header.Width);
        Assert.Equal(1080, header.Height);
        Assert.Equal(29.97, header.Fps, 2);
        Assert.False(header.FullRange);
        Assert.True(Y4mReader.ParseHeader("YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=FULL"u8).FullRange);
    }

    [Theory]
    [InlineData("YUV4MPEG2 W64 H48 F25:1 C444")]
    [InlineData("YUV4MPEG2 W0 H48 F25:1")]
    [InlineData("YUV4MPEG2 W99999 H48 F25:1")]
    [InlineData("YUV4MPEG2 W-5 H48")]
    [InlineData("NOTY4M W64 H48")]
    [InlineData("YUV4MPEG2 H48")]
    public void Rejects_headers_we_cannot_read_safely(string line)
    {
        Assert.ThrowsAny<Exception>(() => Y4mReader.ParseHeader(Encoding.ASCII.GetBytes(line)));
    }

    [Fact]
    public async Task An_endless_header_line_is_refused()
    {
        byte[] data = [.. "YUV4MPEG2 W64 H48 "u8, .. Enumerable.Repeat((byte)'X', 10_000)];
        await Assert.ThrowsAsync<InvalidDataException>(async () => await Y4mReader.OpenAsync(new MemoryStream(data), CancellationToken.None));
    }

    [Fact]
    public async Task A_missing_FRAME_line_is_lost_sync_and_a_short_frame_ends_the_stream()
    {
        byte[] header = "YUV4MPEG2 W4 H2 F25:1 C420jpeg XCOLORRANGE=FULL\n"u8.ToArray();
        int size = VideoFrame.I420Length(4, 2);
        byte[] good = [.. "FRAME\n"u8, .. new byte[size]];
        Y4mReader reader = (await Y4mReader.OpenAsync(new MemoryStream([.. header, .. good, .. "FRAME\n"u8, 1, 2, 3]), CancellationToken.None))!;
        using (VideoFrame? first = await reader.ReadFrameAsync(CancellationToken.None))
        {
            Assert.NotNull(first);
            Assert.Equal(PixelFormat.I420, first.Format);
        }

        Assert.Null(await reader.ReadFrameAsync(CancellationToken.None));

        Y4mReader garbled = (await Y4mReader.OpenAsync(new MemoryStream([.. header, .. "GARBAGE\n"u8]), CancellationToken.None))!;
        await Assert.ThrowsAsync<InvalidDataException>(async () => await garbled.ReadFrameAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Reads_real_ffmpeg_output_and_matches_ffmpegs_own_rgb_conversion()
    {
        // The same picture two ways: ffmpeg's YUV (video range) read by us and turned into BGR by libjpeg-turbo,
        // and ffmpeg's own conversion to BGR. Colour maths differ slightly, so compare the mean error.
        string[] input = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "3"];
        (int code, byte[] y4m, string err) = await MediaTools.RunAsync("ffmpeg", ["-v", "error", .. input, "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "pipe:1"]);
        Assert.True(code == 0, err);
        (code, byte[] bgr, err) = await MediaTools.RunAsync("ffmpeg", ["-v", "error", .. input, "-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1"]);
        Assert.True(code == 0, err);

        Y4mReader reader = (await Y4mReader.OpenAsync(new MemoryStream(y4m), CancellationToken.None))!;
        Assert.Equal(320, reader.Header.Width);
        Assert.False(reader.Header.FullRange);
        using var converter = new YuvToBgrConverter();
        for (int i = 0; i < 3; i++)
        {
            using VideoFrame? frame = await reader.ReadFrameAsync(CancellationToken.None);
            Assert.NotNull(frame);
            using VideoFrame ours = converter.ToBgr(frame);
            using VideoFrame theirs = VideoFrame.Rent(320, 240);
            bgr.AsSpan(i * 320 * 240 * 3, 320 * 240 * 3).CopyTo(theirs.Pixels);
            double error = TestFrames.MeanAbsoluteError(ours, theirs);
            Assert.True(error < 4, $"frame {i}: mean absolute error {error:0.00} against ffmpeg's BGR");
        }

        Assert.Null(await reader.ReadFrameAsync(CancellationToken.None));
    }
}
