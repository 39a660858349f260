using SocketCam.Media;

namespace SocketCam.Codecs.TurboJpeg;

/// <summary>
/// BGR24 or I420 to JPEG with libjpeg-turbo, written straight into the caller's buffer. Not thread-safe.
/// I420 frames are compressed as they are (4:2:0, or gray when asked), skipping the colour conversion.
/// </summary>
internal sealed unsafe class JpegEncoder : IFrameEncoder
{
    private readonly int _quality;
    private readonly int _subsampling;
    private readonly int _flags;
    private TurboJpegHandle? _handle;
    private bool _disposed;

    // tjBufSize for the last size asked, so steady-state Encode calls skip the native call.
    private int _cachedWidth;
    private int _cachedHeight;
    private int _cachedBufSize;

    public JpegEncoder(JpegOptions? options = null)
    {
        options ??= new JpegOptions();
        _quality = options.Quality;
        _subsampling = (int)options.Subsampling;
        _flags = TurboJpegNative.FlagNoRealloc | (options.FastDct ? TurboJpegNative.FlagFastDct : TurboJpegNative.FlagAccurateDct);
    }

    public CodecId Codec => CodecId.Jpeg;

    public int Quality => _quality;

    public int MaxEncodedSize(int width, int height)
    {
        VideoFrame.ValidateSize(width, height);
        if (width == _cachedWidth && height == _cachedHeight)
        {
            return _cachedBufSize;
        }

        TurboJpegLibrary.EnsureAvailable();

        // Room for this encoder's subsampling and for 4:2:0, which I420 frames are compressed as.
        nuint size = Math.Max(TurboJpegNative.BufSize(width, height, _subsampling), TurboJpegNative.BufSize(width, height, TurboJpegNative.Subsampling420));
        if (size == unchecked((nuint)(-1)) || size > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"Cannot size a JPEG buffer for {width}x{height}.");
        }

        _cachedWidth = width;
        _cachedHeight = height;
        _cachedBufSize = (int)size;
        return _cachedBufSize;
    }

    public int Encode(VideoFrame frame, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ObjectDisposedException.ThrowIf(_disposed, this);

        // With TJFLAG_NOREALLOC libjpeg-turbo 2.1.5 ignores the size we pass and assumes tjBufSize bytes:
        // a smaller buffer would corrupt the heap rather than fail, so refuse it here.
        int required = MaxEncodedSize(frame.Width, frame.Height);
        if (destination.Length < required)
        {
            throw new ArgumentException(
                $"The destination holds {destination.Length} bytes; a {frame.Width}x{frame.Height} JPEG needs {required} (MaxEncodedSize).",
                nameof(destination));
        }

        if (frame.Offset < 0 || frame.Offset + frame.ByteLength > frame.Buffer.Length)
        {
            throw new ArgumentException("The frame does not fit in its buffer.", nameof(frame));
        }

        TurboJpegHandle handle = _handle ??= TurboJpegHandle.ForCompression();
        fixed (byte* source = frame.Buffer)
        fixed (byte* target = destination)
        {
            byte* jpeg = target;
            nuint size = (nuint)destination.Length;
            int result = frame.Format == PixelFormat.I420
                ? TurboJpegNative.CompressFromYuv(
                    handle,
                    source + frame.Offset,
                    frame.Width,
                    1,
                    frame.Height,
                    _subsampling == TurboJpegNative.SubsamplingGray ? TurboJpegNative.SubsamplingGray : TurboJpegNative.Subsampling420,
                    &jpeg,
                    &size,
                    _quality,
                    _flags)
                : TurboJpegNative.Compress2(
                    handle,
                    source + frame.Offset,
                    frame.Width,
                    frame.Stride,
                    frame.Height,
                    TurboJpegNative.PixelFormatBgr,
                    &jpeg,
                    &size,
                    _subsampling,
                    _quality,
                    _flags);
            if (result != 0)
            {
                throw new InvalidOperationException("JPEG encoding failed: " + TurboJpegNative.GetError(handle));
            }

            if (jpeg != target || size > (nuint)destination.Length)
            {
                // Cannot happen with NOREALLOC; if it did, the bytes are not where the caller expects them.
                throw new InvalidOperationException("libjpeg-turbo did not encode into the supplied buffer.");
            }

            return (int)size;
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _handle?.Dispose();
        _handle = null;
    }
}
