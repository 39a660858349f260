using SocketCam.Media;
using SocketCam.Sources;

namespace SocketCam.Tests.Sources;

public sealed class TestPatternSourceTests
{
    [Fact]
    public async Task FramesChangeOverTimeAndSequenceIncrements()
    {
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 320, Height = 240, Fps = 0 });
        byte[]? first = null;
        for (int i = 0; i < 5; i++)
        {
            using VideoFrame? frame = await source.ReadFrameAsync(CancellationToken.None);
            Assert.NotNull(frame);
            Assert.Equal(i, frame.Sequence);
            Assert.Equal((320, 240), (frame.Width, frame.Height));
            Assert.True(frame.CaptureMicros > 0);
            byte[] pixels = Packed(frame);
            if (first is null)
            {
                first = pixels;
            }
            else
            {
                Assert.False(first.AsSpan().SequenceEqual(pixels), $"frame {i} equals frame 0");
            }
        }
    }

    [Fact]
    public async Task PictureHasRealDetail()
    {
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 640, Height = 360, Fps = 0 });
        using VideoFrame? frame = await source.ReadFrameAsync(CancellationToken.None);
        Assert.NotNull(frame);

        // Many distinct colours and many strong horizontal edges (a flat or trivial picture would fail).
        var colours = new HashSet<int>();
        long edges = 0;
        for (int y = 0; y < frame.Height; y++)
        {
            ReadOnlySpan<byte> row = frame.Row(y);
            for (int x = 0; x < frame.Width; x++)
            {
                colours.Add(row[x * 3] | (row[(x * 3) + 1] << 8) | (row[(x * 3) + 2] << 16));
                if (x > 0 && Math.Abs(row[x * 3] - row[(x - 1) * 3]) > 64)
                {
                    edges++;
                }
            }
        }

        Assert.True(colours.Count > 1000, $"{colours.Count} colours");
        Assert.True(edges > 5_000, $"{edges} edges");
    }

    [Fact]
    public async Task DisposingAFrameRestoresTheBackgroundUnderTheOverlay()
    {
        // The scroll period is the frame height; after a full period the window is back where it started, and with the
        // overlays undone the only differences from frame 0 are the overlays themselves (counter, clock, square).
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 64, Height = 48, Fps = 0 });
        VideoFrame? first = await source.ReadFrameAsync(CancellationToken.None);
        Assert.NotNull(first);
        byte[] firstPixels = Packed(first);
        int firstOffset = first.Offset;
        byte[] background = first.Buffer;
        first.Dispose();

        // Rows far from the overlays (the bottom rows, away from the text box; square position checked) are background.
        VideoFrame? again = null;
        for (int i = 1; i <= 48; i++)
        {
            again?.Dispose();
            again = await source.ReadFrameAsync(CancellationToken.None);
        }

        Assert.NotNull(again);
        Assert.Equal(firstOffset, again.Offset);
        Assert.Same(background, again.Buffer);
        int differences = 0;
        byte[] pixels = Packed(again);
        for (int i = 0; i < pixels.Length; i++)
        {
            differences += pixels[i] != firstPixels[i] ? 1 : 0;
        }

        again.Dispose();

        // Text box + square are well under half the 64x48 frame; without restoring, smeared overlays would accumulate.
        Assert.InRange(differences, 1, pixels.Length / 2);
    }

    [Fact]
    public async Task PacedSourceSpacesTimestampsByTheFrameInterval()
    {
        const double fps = 50;
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 160, Height = 120, Fps = fps });
        Assert.Equal(fps, source.Fps);
        long firstMicros = 0, lastMicros = 0;
        const int frames = 25;
        for (int i = 0; i < frames; i++)
        {
            using VideoFrame? frame = await source.ReadFrameAsync(CancellationToken.None);
            Assert.NotNull(frame);
            if (i == 0)
            {
                firstMicros = frame.CaptureMicros;
            }

            lastMicros = frame.CaptureMicros;
        }

        // Only a source that does not pace at all fails this; being late (a busy machine) is fine.
        double averageMicros = (lastMicros - firstMicros) / (double)(frames - 1);
        Assert.True(averageMicros >= 1e6 / fps * 0.9, $"average spacing {averageMicros:0} us");
    }

    [Fact]
    public async Task SlowConsumerDoesNotGetABurst()
    {
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 32, Height = 32, Fps = 100 });
        using (VideoFrame? frame = await source.ReadFrameAsync(CancellationToken.None))
        {
            await Task.Delay(200);
        }

        // 20 slots were missed; the next frames must still be spaced, not handed out back to back.
        long previous = 0;
        double total = 0;
        for (int i = 0; i < 6; i++)
        {
            using VideoFrame? frame = await source.ReadFrameAsync(CancellationToken.None);
            Assert.NotNull(frame);
            if (i > 0)
            {
                total += frame.CaptureMicros - previous;
            }

            previous = frame.CaptureMicros;
        }

        Assert.True(total / 5 >= 10_000 * 0.9, $"average spacing {total / 5:0} us after a stall");
    }

    [Fact]
    public async Task UnpacedSourceCompletesSynchronously()
    {
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 1280, Height = 720, Fps = 0 });
        Assert.Contains("unpaced", source.Description, StringComparison.Ordinal);
        for (int i = 0; i < 200; i++)
        {
            ValueTask<VideoFrame?> read = source.ReadFrameAsync(CancellationToken.None);
            Assert.True(read.IsCompletedSuccessfully);
            using VideoFrame? frame = await read;
            Assert.Equal(i, frame!.Sequence);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(8, 8)]
    [InlineData(16, 16)]
    [InlineData(3, 200)]
    [InlineData(200, 3)]
    [InlineData(1920, 1080)]
    public async Task AnySizeWorks(int width, int height)
    {
        await using var source = new TestPatternSource(new TestPatternOptions { Width = width, Height = height, Fps = 0 });
        Assert.Equal((width, height), (source.Width, source.Height));
        for (int i = 0; i < 300; i++)
        {
            using VideoFrame? frame = await source.ReadFrameAsync(CancellationToken.None);
            Assert.NotNull(frame);
            Assert.Equal((width, height), (frame.Width, frame.Height));
            Assert.Equal(width * 3, frame.Stride);
            Assert.InRange(frame.Offset + frame.ByteLength, 1, frame.Buffer.Length);
        }
    }

    [Fact]
    public async Task NotDisposingThePreviousFrameThrows()
    {
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 32, Height = 32, Fps = 0 });
        VideoFrame? frame = await source.ReadFrameAsync(CancellationToken.None);

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await source.ReadFrameAsync(CancellationToken.None));

        frame!.Dispose();
        using VideoFrame? next = await source.ReadFrameAsync(CancellationToken.None);
        Assert.Equal(1, next!.Sequence);
    }

    [Fact]
    public async Task DisposingTwiceIsHarmlessEvenAfterTheNextRead()
    {
        await using var source = new TestPatternSource(new TestPatternOptions { Width = 32, Height = 32, Fps = 0 });
        VideoFrame? first = await source.ReadFrameAsync(CancellationToken.None);
        first!.Dispose();
        first.Dispose();

        VideoFrame? second = await source.ReadFrameAsync(CancellationToken.None);
        first.Dispose(); // a stale reference must not release the frame that is out now

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await source.ReadFrameAsync(CancellationToken.None));
        second!.Dispose();
        second.Dispose();
        using VideoFrame? third = await source.ReadFrameAsync(CancellationToken.None);
        Assert.Equal(2, third!.Sequence);
    }

    [Fact]
    public async Task DisposedSourceAndCancellation()
    {
        var source = new TestPatternSource(new TestPatternOptions { Width = 16, Height = 16, Fps = 1 });
        using (await source.ReadFrameAsync(CancellationToken.None))
        {
        }

        // The next frame is a second away: cancellation ends the wait.
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await source.ReadFrameAsync(cts.Token));

        await source.DisposeAsync();
        await source.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await source.ReadFrameAsync(CancellationToken.None));
    }

    [Fact]
    public void OptionsHaveDefaultsAndValidate()
    {
        var options = new TestPatternOptions();
        Assert.Equal((1280, 720, 30.0), (options.Width, options.Height, options.Fps));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TestPatternOptions { Width = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TestPatternOptions { Height = FrameLimits.MaxDimension + 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TestPatternOptions { Fps = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new TestPatternOptions { Fps = double.NaN });
    }

    [Theory]
    [InlineData("1280x720", 1280, 720)]
    [InlineData(" 640X480 ", 640, 480)]
    [InlineData("720p", 1280, 720)]
    [InlineData("1080P", 1920, 1080)]
    [InlineData("vga", 640, 480)]
    [InlineData("4k", 3840, 2160)]
    [InlineData("1x1", 1, 1)]
    [InlineData("8192x8192", 8192, 8192)]
    public void FrameSizeParses(string text, int width, int height)
    {
        Assert.Equal(new FrameSize(width, height), FrameSize.Parse(text));
        (int w, int h) = FrameSize.Parse(text);
        Assert.Equal((width, height), (w, h));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1280")]
    [InlineData("1280x")]
    [InlineData("x720")]
    [InlineData("0x720")]
    [InlineData("8193x100")]
    [InlineData("-5x5")]
    [InlineData("12a0x720")]
    [InlineData("1280x720x3")]
    [InlineData("99999999999x1")]
    public void FrameSizeRejectsNonsense(string text)
    {
        Assert.False(FrameSize.TryParse(text, out _));
        var error = Assert.Throws<FormatException>(() => FrameSize.Parse(text));
        Assert.Contains("720p", error.Message, StringComparison.Ordinal);
        Assert.Equal("1280x720", new FrameSize(1280, 720).ToString());
    }

    private static byte[] Packed(VideoFrame frame)
    {
        byte[] pixels = new byte[frame.Width * frame.Height * 3];
        for (int y = 0; y < frame.Height; y++)
        {
            frame.Row(y).CopyTo(pixels.AsSpan(y * frame.Width * 3));
        }

        return pixels;
    }
}
