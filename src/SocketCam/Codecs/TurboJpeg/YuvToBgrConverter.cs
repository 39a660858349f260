using SocketCam.Media;

namespace SocketCam.Codecs.TurboJpeg;

/// <summary>I420 (full range) to BGR24 with libjpeg-turbo's SIMD colour conversion. Not thread-safe.</summary>
internal sealed unsafe class YuvToBgrConverter : IDisposable
{
    private TurboJpegHandle? _handle;

    /// <summary>Writes <paramref name="source"/> as packed BGR24 rows <paramref name="pitch"/> bytes apart.</summary>
    public void Convert(VideoFrame source, Span<byte> destination, int pitch)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Format != PixelFormat.I420)
        {
            throw new ArgumentException("The source frame is not I420.", nameof(source));
        }

        if (pitch < source.Width * VideoFrame.BytesPerPixel || destination.Length < ((source.Height - 1) * pitch) + (source.Width * VideoFrame.BytesPerPixel))
        {
            throw new ArgumentException("The destination is too small for the frame.", nameof(destination));
        }

        TurboJpegHandle handle = _handle ??= TurboJpegHandle.ForDecompression();
        fixed (byte* src = source.Buffer)
        fixed (byte* dst = destination)
        {
            int result = TurboJpegNative.DecodeYuv(handle, src + source.Offset, 1, TurboJpegNative.Subsampling420, dst, source.Width, pitch, source.Height, TurboJpegNative.PixelFormatBgr, 0);
            if (result != 0)
            {
                throw new InvalidOperationException("YUV to BGR conversion failed: " + TurboJpegNative.GetError(handle));
            }
        }
    }

    /// <summary>A new pooled BGR24 copy of an I420 frame (same sequence and capture time); the caller disposes it.</summary>
    public VideoFrame ToBgr(VideoFrame source)
    {
        VideoFrame bgr = VideoFrame.Rent(source.Width, source.Height);
        try
        {
            Convert(source, bgr.Pixels, bgr.Stride);
            bgr.Sequence = source.Sequence;
            bgr.CaptureMicros = source.CaptureMicros;
            return bgr;
        }
        catch
        {
            bgr.Dispose();
            throw;
        }
    }

    /// <summary>Converts with a short-lived converter (snapshots and other one-off uses).</summary>
    public static VideoFrame ToBgrOnce(VideoFrame source)
    {
        using var converter = new YuvToBgrConverter();
        return converter.ToBgr(source);
    }

    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }
}
