using SocketCam.Media;
using SocketCam.Sources;

namespace SocketCam.Tests.Codecs;

/// <summary>Frames with real content for codec tests.</summary>
internal static class TestFrames
{
    /// <summary>A packed copy of test pattern frame <paramref name="index"/> (the caller disposes it).</summary>
    public static VideoFrame Pattern(int width, int height, int index = 0)
    {
        var source = new TestPatternSource(new TestPatternOptions { Width = width, Height = height, Fps = 0 });
        try
        {
            for (int i = 0; ; i++)
            {
                using VideoFrame? frame = source.ReadFrameAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
                Assert.NotNull(frame);
                if (i == index)
                {
                    return Copy(frame);
                }
            }
        }
        finally
        {
            source.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    public static VideoFrame Copy(VideoFrame frame)
    {
        VideoFrame copy = VideoFrame.Rent(frame.Width, frame.Height);
        for (int y = 0; y < frame.Height; y++)
        {
            frame.Row(y).CopyTo(copy.Buffer.AsSpan(y * copy.Stride, copy.Width * 3));
        }

        copy.Sequence = frame.Sequence;
        copy.CaptureMicros = frame.CaptureMicros;
        return copy;
    }

    public static double MeanAbsoluteError(VideoFrame a, VideoFrame b)
    {
        Assert.Equal(a.Width, b.Width);
        Assert.Equal(a.Height, b.Height);
        long sum = 0;
        for (int y = 0; y < a.Height; y++)
        {
            ReadOnlySpan<byte> ra = a.Row(y);
            ReadOnlySpan<byte> rb = b.Row(y);
            for (int i = 0; i < ra.Length; i++)
            {
                sum += Math.Abs(ra[i] - rb[i]);
            }
        }

        return sum / (double)(a.Width * a.Height * 3);
    }

    public static bool PixelsEqual(VideoFrame a, VideoFrame b)
    {
        if (a.Width != b.Width || a.Height != b.Height)
        {
            return false;
        }

        for (int y = 0; y < a.Height; y++)
        {
            if (!a.Row(y).SequenceEqual(b.Row(y)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A frame in a larger buffer with padding between rows and before the first pixel.</summary>
    public static VideoFrame Padded(int width, int height, int padding = 17, int offset = 5)
    {
        int stride = (width * 3) + padding;
        var buffer = new byte[offset + (stride * height)];
        Random.Shared.NextBytes(buffer);
        return VideoFrame.Wrap(buffer, offset, width, height, stride);
    }
}
