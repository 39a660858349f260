using SocketCam.Media;

namespace SocketCam.Seed;

/// <summary>
/// One frame in the seed format (length prefix + pickle) in a pooled array, shared by every seed client.
/// Reference-counted like <see cref="Media.MediaFrame"/>: each holder calls <see cref="Release"/> once.
/// </summary>
internal sealed class PickledFrame
{
    private byte[] _buffer;
    private int _refs = 1;

    private PickledFrame(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlyMemory<byte> Message => _buffer.AsMemory(0, Length);

    /// <summary>
    /// Rents a frame for an image of this shape, writes the length prefix and the pickle around the pixels, and hands
    /// the pixels' place to <paramref name="fill"/> (which copies or decodes into it). The caller holds one reference.
    /// </summary>
    public static PickledFrame Create<TState>(int width, int height, TState state, Action<Memory<byte>, TState> fill)
    {
        int pickle = NumpyPickle.PickledLength(height, width, 3);
        int length = SeedFraming.LengthBytes + pickle;
        byte[] buffer = FrameBufferPool.Shared.Rent(length);
        try
        {
            SeedFraming.WriteLength(buffer, pickle);
            NumpyPickle.WriteAround(buffer.AsSpan(SeedFraming.LengthBytes, pickle), height, width, 3, out int pixelOffset);
            fill(buffer.AsMemory(SeedFraming.LengthBytes + pixelOffset, width * height * 3), state);
        }
        catch
        {
            FrameBufferPool.Shared.Return(buffer);
            throw;
        }

        return new PickledFrame(buffer, length);
    }

    public void AddRef()
    {
        if (Interlocked.Increment(ref _refs) <= 1)
        {
            throw new InvalidOperationException("AddRef on a released frame.");
        }
    }

    public void Release()
    {
        int refs = Interlocked.Decrement(ref _refs);
        if (refs == 0)
        {
            FrameBufferPool.Shared.Return(_buffer);
            _buffer = [];
        }
        else if (refs < 0)
        {
            throw new InvalidOperationException("Frame released more often than referenced.");
        }
    }
}
