using SocketCam.Codecs;
using SocketCam.Media;
using SocketCam.Sources;

namespace SocketCam.Tests.Support;

/// <summary>Real encoded pictures for tests that play publisher by hand.</summary>
internal static class TestMedia
{
    /// <summary>The first <paramref name="count"/> test pattern frames, JPEG-encoded by libjpeg-turbo.</summary>
    public static List<byte[]> EncodePattern(int width, int height, int count, CodecId codec = CodecId.Jpeg)
    {
        var source = new TestPatternSource(new TestPatternOptions { Width = width, Height = height, Fps = 0 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(codec);
        byte[] buffer = new byte[encoder.MaxEncodedSize(width, height)];
        var frames = new List<byte[]>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                using VideoFrame? frame = source.ReadFrameAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
                Assert.NotNull(frame);
                int length = encoder.Encode(frame, buffer);
                frames.Add(buffer[..length]);
            }
        }
        finally
        {
            source.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return frames;
    }
}

/// <summary>Wraps a source and keeps a packed copy of every frame it hands out (up to a limit), by sequence.</summary>
internal sealed class RecordingSource : IFrameSource
{
    private readonly IFrameSource _inner;
    private readonly int _limit;
    private readonly Lock _lock = new();
    private readonly Dictionary<long, byte[]> _frames = [];

    public RecordingSource(IFrameSource inner, int limit)
    {
        _inner = inner;
        _limit = limit;
    }

    public string Description => "recording " + _inner.Description;

    public int Width => _inner.Width;

    public int Height => _inner.Height;

    public double Fps => _inner.Fps;

    public byte[]? Get(long sequence)
    {
        lock (_lock)
        {
            return _frames.GetValueOrDefault(sequence);
        }
    }

    public async ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        VideoFrame? frame = await _inner.ReadFrameAsync(cancellationToken);
        if (frame is not null)
        {
            lock (_lock)
            {
                if (_frames.Count < _limit)
                {
                    byte[] copy = new byte[frame.Width * frame.Height * VideoFrame.BytesPerPixel];
                    for (int y = 0; y < frame.Height; y++)
                    {
                        frame.Row(y).CopyTo(copy.AsSpan(y * frame.Width * VideoFrame.BytesPerPixel));
                    }

                    _frames[frame.Sequence] = copy;
                }
            }
        }

        return frame;
    }

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
