using SocketCam.Codecs.TurboJpeg;
using SocketCam.Media;

namespace SocketCam.Codecs;

/// <summary>Uncompressed BGR24: rows packed, top row first (W*H*3 bytes). I420 frames are converted on the way.</summary>
internal sealed class RawEncoder : IFrameEncoder
{
    private YuvToBgrConverter? _converter;

    public CodecId Codec => CodecId.RawBgr24;

    public int MaxEncodedSize(int width, int height)
    {
        VideoFrame.ValidateSize(width, height);
        return width * height * VideoFrame.BytesPerPixel;
    }

    public int Encode(VideoFrame frame, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(frame);
        int rowBytes = frame.Width * VideoFrame.BytesPerPixel;
        int size = MaxEncodedSize(frame.Width, frame.Height);
        if (destination.Length < size)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; the frame needs {size}.", nameof(destination));
        }

        if (frame.Format == PixelFormat.I420)
        {
            (_converter ??= new YuvToBgrConverter()).Convert(frame, destination, rowBytes);
        }
        else if (frame.Stride == rowBytes)
        {
            frame.Buffer.AsSpan(frame.Offset, size).CopyTo(destination);
        }
        else
        {
            for (int y = 0; y < frame.Height; y++)
            {
                frame.Row(y).CopyTo(destination.Slice(y * rowBytes, rowBytes));
            }
        }

        return size;
    }

    public void Dispose()
    {
        _converter?.Dispose();
        _converter = null;
    }
}

/// <summary>Uncompressed BGR24 back into a frame, honouring the destination's stride.</summary>
internal sealed class RawDecoder : IFrameDecoder
{
    public CodecId Codec => CodecId.RawBgr24;

    public void Decode(ReadOnlySpan<byte> payload, int width, int height, VideoFrame destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (width is < 1 or > FrameLimits.MaxDimension || height is < 1 or > FrameLimits.MaxDimension)
        {
            throw new InvalidDataException($"Declared frame size {width}x{height} is outside 1..{FrameLimits.MaxDimension}.");
        }

        if (destination.Width != width || destination.Height != height)
        {
            throw new ArgumentException(
                $"The destination is {destination.Width}x{destination.Height} but the frame is {width}x{height}.", nameof(destination));
        }

        int rowBytes = width * VideoFrame.BytesPerPixel;
        long expected = (long)rowBytes * height;
        if (payload.Length != expected)
        {
            throw new InvalidDataException($"A raw {width}x{height} BGR24 frame is {expected} bytes, got {payload.Length}.");
        }

        if (destination.Stride == rowBytes)
        {
            payload.CopyTo(destination.Buffer.AsSpan(destination.Offset, payload.Length));
            return;
        }

        for (int y = 0; y < height; y++)
        {
            payload.Slice(y * rowBytes, rowBytes).CopyTo(destination.Buffer.AsSpan(destination.Offset + (y * destination.Stride), rowBytes));
        }
    }

    public void Dispose()
    {
    }
}
