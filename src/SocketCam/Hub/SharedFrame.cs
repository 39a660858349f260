using System.Buffers;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Hub;

/// <summary>
/// One encoded frame as a complete VIDEO_FRAME message in a pooled array, shared by every viewer of a room.
/// Reference-counted: each holder calls <see cref="Release"/> once; the last one returns the array to the pool.
/// Viewers send <see cref="Message"/> as it is, so fan-out never copies the picture.
/// </summary>
internal sealed class SharedFrame
{
    private const int MaxPooledObjects = 64;
    private static readonly Stack<SharedFrame> Pool = new();

    private byte[] _buffer = [];
    private int _length;
    private int _refs;

    private SharedFrame()
    {
    }

    public VideoFrameHeader Header { get; private set; }

    /// <summary>The whole message: message header, frame header, picture.</summary>
    public ReadOnlyMemory<byte> Message => _buffer.AsMemory(0, _length);

    /// <summary>The picture (JPEG or raw bytes).</summary>
    public ReadOnlySpan<byte> Data => _buffer.AsSpan(ProtocolConstants.FrameMessageOverhead, _length - ProtocolConstants.FrameMessageOverhead);

    public int DataLength => _length - ProtocolConstants.FrameMessageOverhead;

    /// <summary>Rents a frame with room for <paramref name="maxDataLength"/> bytes of picture; the caller holds one reference.</summary>
    public static SharedFrame Rent(int maxDataLength)
    {
        SharedFrame? frame = null;
        lock (Pool)
        {
            Pool.TryPop(out frame);
        }

        frame ??= new SharedFrame();
        frame._buffer = FrameBufferPool.Shared.Rent(checked(ProtocolConstants.FrameMessageOverhead + maxDataLength));
        frame._length = 0;
        frame._refs = 1;
        return frame;
    }

    /// <summary>Where the encoder writes the picture.</summary>
    public Span<byte> WritableData => _buffer.AsSpan(ProtocolConstants.FrameMessageOverhead);

    /// <summary>Where a receiver copies a whole VIDEO_FRAME message it read from the network.</summary>
    public Span<byte> WritableMessage => _buffer;

    /// <summary>Seals the frame after the picture was written to <see cref="WritableData"/>.</summary>
    public void Complete(in VideoFrameHeader header, int dataLength)
    {
        MessageWriter.WriteVideoFrameHeaders(_buffer, header, dataLength);
        Header = header;
        _length = ProtocolConstants.FrameMessageOverhead + dataLength;
    }

    /// <summary>Seals a frame whose whole message (headers included) was copied into <see cref="WritableMessage"/>.</summary>
    public void CompleteCopied(in VideoFrameHeader header, int messageLength)
    {
        Header = header;
        _length = messageLength;
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
        if (refs > 0)
        {
            return;
        }

        if (refs < 0)
        {
            throw new InvalidOperationException("Frame released more often than referenced.");
        }

        FrameBufferPool.Shared.Return(_buffer);
        _buffer = [];
        _length = 0;
        lock (Pool)
        {
            if (Pool.Count < MaxPooledObjects)
            {
                Pool.Push(this);
            }
        }
    }
}
