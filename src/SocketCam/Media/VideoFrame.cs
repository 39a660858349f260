using System.Buffers;

namespace SocketCam.Media;

/// <summary>How a frame's bytes are laid out.</summary>
internal enum PixelFormat
{
    /// <summary>Packed B, G, R bytes (OpenCV's order), rows <see cref="VideoFrame.Stride"/> apart.</summary>
    Bgr24,

    /// <summary>
    /// Planar YUV 4:2:0, full range (JPEG's YCbCr): a Y plane of Width x Height bytes, then Cb and Cr planes of
    /// ceil(Width/2) x ceil(Height/2) bytes each, packed without padding. What ffmpeg decodes video to; libjpeg-turbo
    /// compresses it without a colour conversion.
    /// </summary>
    I420,
}

/// <summary>
/// A picture (BGR24, or planar I420 from ffmpeg sources) with its sequence number and capture time.
/// The pixels live in a pooled array; whoever holds the frame disposes it once, which hands the
/// array back to its owner (the pool, or a source that reuses it).
/// </summary>
internal sealed class VideoFrame : IDisposable
{
    public const int BytesPerPixel = 3;

    private Action<VideoFrame>? _release;

    private VideoFrame(byte[] buffer, int offset, int width, int height, int stride, Action<VideoFrame>? release, PixelFormat format = PixelFormat.Bgr24)
    {
        Format = format;
        Buffer = buffer;
        Offset = offset;
        Width = width;
        Height = height;
        Stride = stride;
        _release = release;
    }

    /// <summary>The array that holds the pixels; row <c>y</c> starts at <c>Offset + y * Stride</c>.</summary>
    public byte[] Buffer { get; private set; }

    public int Offset { get; private set; }

    public int Width { get; private set; }

    public int Height { get; private set; }

    public PixelFormat Format { get; }

    /// <summary>Bytes from one row to the next (BGR24: at least <c>Width * 3</c>; I420: the Y plane's, <c>Width</c>).</summary>
    public int Stride { get; private set; }

    /// <summary>Monotonic frame number given by the source.</summary>
    public long Sequence { get; set; }

    /// <summary>Capture time, microseconds since the Unix epoch on the capturing host's clock.</summary>
    public long CaptureMicros { get; set; }

    /// <summary>Number of bytes from the first pixel to the end of the last row.</summary>
    public int ByteLength => Format == PixelFormat.I420 ? I420Length(Width, Height) : checked(((Height - 1) * Stride) + (Width * BytesPerPixel));

    public Span<byte> Pixels => Buffer.AsSpan(Offset, ByteLength);

    public ReadOnlySpan<byte> Row(int y) => Buffer.AsSpan(Offset + (y * Stride), Width * BytesPerPixel);

    /// <summary>Rents a tightly packed frame from <see cref="ArrayPool{T}.Shared"/>.</summary>
    public static VideoFrame Rent(int width, int height)
    {
        ValidateSize(width, height);
        int stride = width * BytesPerPixel;
        byte[] buffer = FrameBufferPool.Shared.Rent(checked(stride * height));
        return new VideoFrame(buffer, 0, width, height, stride, static f => FrameBufferPool.Shared.Return(f.Buffer));
    }

    /// <summary>Rents a packed I420 frame (see <see cref="PixelFormat.I420"/>).</summary>
    public static VideoFrame RentI420(int width, int height)
    {
        ValidateSize(width, height);
        byte[] buffer = FrameBufferPool.Shared.Rent(I420Length(width, height));
        return new VideoFrame(buffer, 0, width, height, width, static f => FrameBufferPool.Shared.Return(f.Buffer), PixelFormat.I420);
    }

    /// <summary>Bytes of a packed I420 picture: the Y plane plus two chroma planes of half size, rounded up.</summary>
    public static int I420Length(int width, int height) => checked((width * height) + (2 * ((width + 1) / 2) * ((height + 1) / 2)));

    /// <summary>Throws unless the frame is BGR24 (for consumers that only handle packed pixels).</summary>
    public void RequireBgr24(string consumer)
    {
        if (Format != PixelFormat.Bgr24)
        {
            throw new NotSupportedException($"{consumer} needs BGR24 pixels, not {Format}.");
        }
    }

    /// <summary>Wraps memory owned by someone else; <paramref name="release"/> runs on dispose.</summary>
    public static VideoFrame Wrap(byte[] buffer, int offset, int width, int height, int stride, Action<VideoFrame>? release = null)
    {
        ValidateSize(width, height);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, width * BytesPerPixel);
        var frame = new VideoFrame(buffer, offset, width, height, stride, release);
        if (offset < 0 || offset + frame.ByteLength > buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), "The frame does not fit in the buffer.");
        }

        return frame;
    }

    public static void ValidateSize(int width, int height)
    {
        if (width is < 1 or > FrameLimits.MaxDimension || height is < 1 or > FrameLimits.MaxDimension)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"Frame size {width}x{height} is outside 1..{FrameLimits.MaxDimension}.");
        }
    }

    public void Dispose()
    {
        Action<VideoFrame>? release = _release;
        _release = null;
        release?.Invoke(this);
    }
}

/// <summary>Hard limits shared by every component that sizes a buffer from a frame header.</summary>
internal static class FrameLimits
{
    /// <summary>Largest width or height accepted anywhere (8K is 7680; leave headroom, stay far from overflow).</summary>
    public const int MaxDimension = 8192;

    /// <summary>Default cap on one encoded frame on the wire (16 MiB).</summary>
    public const int DefaultMaxFrameBytes = 16 * 1024 * 1024;
}
