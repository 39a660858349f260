using SocketCam.Media;

namespace SocketCam.Codecs.TurboJpeg;

/// <summary>
/// BGR24 to packed full-range I420 with libjpeg-turbo's SIMD colour conversion (the same BT.601 full-range matrix JPEG
/// uses, so H.264 and JPEG of one source look alike). Not thread-safe.
/// </summary>
internal sealed unsafe class BgrToI420Converter : IDisposable
{
    private TurboJpegHandle? _handle;

    /// <summary>Converts <paramref name="source"/> (BGR24) into <paramref name="destination"/> (packed I420 of the same size).</summary>
    public void Convert(VideoFrame source, VideoFrame destination)
    {
        source.RequireBgr24("The BGR to I420 converter");
        if (destination.Format != PixelFormat.I420 || destination.Width != source.Width || destination.Height != source.Height)
        {
            throw new ArgumentException("The destination must be I420 of the source's size.", nameof(destination));
        }

        TurboJpegHandle handle = _handle ??= TurboJpegHandle.ForCompression();
        fixed (byte* src = source.Buffer)
        fixed (byte* dst = destination.Buffer)
        {
            int result = TurboJpegNative.EncodeYuv3(
                handle, src + source.Offset, source.Width, source.Stride, source.Height, TurboJpegNative.PixelFormatBgr,
                dst + destination.Offset, 1, TurboJpegNative.Subsampling420, 0);
            if (result != 0)
            {
                throw new InvalidOperationException("tjEncodeYUV3 failed: " + TurboJpegNative.GetError(handle));
            }
        }
    }

    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }
}
