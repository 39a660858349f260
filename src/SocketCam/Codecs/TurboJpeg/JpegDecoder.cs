using SocketCam.Media;

namespace SocketCam.Codecs.TurboJpeg;

/// <summary>JPEG to BGR24 with libjpeg-turbo, into the caller's frame. Not thread-safe.</summary>
internal sealed unsafe class JpegDecoder : IFrameDecoder
{
    private readonly int _flags;
    private TurboJpegHandle? _handle;
    private bool _disposed;

    /// <param name="fastUpsample">
    /// Default true: nearest-neighbour chroma upsampling and the fast integer IDCT, noticeably faster and
    /// indistinguishable on live video. False gives libjpeg's smooth upsampling and accurate IDCT.
    /// </param>
    public JpegDecoder(bool fastUpsample = true)
    {
        _flags = fastUpsample
            ? TurboJpegNative.FlagFastUpsample | TurboJpegNative.FlagFastDct
            : TurboJpegNative.FlagAccurateDct;
    }

    public CodecId Codec => CodecId.Jpeg;

    public void Decode(ReadOnlySpan<byte> payload, int width, int height, VideoFrame destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ObjectDisposedException.ThrowIf(_disposed, this);
        destination.RequireBgr24("The JPEG decoder");
        if (width is < 1 or > FrameLimits.MaxDimension || height is < 1 or > FrameLimits.MaxDimension)
        {
            throw new InvalidDataException($"Declared frame size {width}x{height} is outside 1..{FrameLimits.MaxDimension}.");
        }

        if (destination.Width != width || destination.Height != height)
        {
            throw new ArgumentException(
                $"The destination is {destination.Width}x{destination.Height} but the frame is {width}x{height}.", nameof(destination));
        }

        if (destination.Offset < 0 || destination.Stride < width * VideoFrame.BytesPerPixel
            || destination.Offset + destination.ByteLength > destination.Buffer.Length)
        {
            // libjpeg-turbo writes height rows of stride bytes from the offset: the frame must hold them all.
            throw new ArgumentException("The destination frame does not fit in its buffer.", nameof(destination));
        }

        if (payload.IsEmpty)
        {
            throw new InvalidDataException("Empty JPEG payload.");
        }

        TurboJpegHandle handle = _handle ??= TurboJpegHandle.ForDecompression();
        fixed (byte* jpeg = payload)
        fixed (byte* target = destination.Buffer)
        {
            int realWidth, realHeight, subsampling, colorspace;
            if (TurboJpegNative.DecompressHeader3(handle, jpeg, (nuint)payload.Length, &realWidth, &realHeight, &subsampling, &colorspace) != 0)
            {
                throw new InvalidDataException("Corrupt JPEG header: " + TurboJpegNative.GetError(handle));
            }

            if (realWidth is < 1 or > FrameLimits.MaxDimension || realHeight is < 1 or > FrameLimits.MaxDimension)
            {
                throw new InvalidDataException($"The JPEG is {realWidth}x{realHeight}, outside 1..{FrameLimits.MaxDimension}.");
            }

            if (realWidth != width || realHeight != height)
            {
                throw new InvalidDataException($"The JPEG is {realWidth}x{realHeight} but the frame was declared as {width}x{height}.");
            }

            // libjpeg-turbo 2.1.5 returns -1 for warnings too (e.g. premature end of data, where the rest of the picture
            // is grey): treat every failure as a corrupt frame rather than show a half-decoded one.
            int result = TurboJpegNative.Decompress2(
                handle,
                jpeg,
                (nuint)payload.Length,
                target + destination.Offset,
                width,
                destination.Stride,
                height,
                TurboJpegNative.PixelFormatBgr,
                _flags);
            if (result != 0)
            {
                throw new InvalidDataException("Corrupt JPEG data: " + TurboJpegNative.GetError(handle));
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _handle?.Dispose();
        _handle = null;
    }
}
