using System.Globalization;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Media;

namespace SocketCam.Codecs.H264;

/// <summary>
/// H.264 with libx264 (docs/H264.md): zero-latency tuning (no look-ahead, no B-frames, one frame in, one frame out),
/// constrained baseline-compatible settings a browser's decoder takes, full-range BT.601 like our JPEGs, SPS/PPS before
/// every keyframe (a viewer can start at any keyframe), Annex B. A new picture size reopens the encoder. Not thread-safe,
/// except <see cref="RequestKeyframe"/>.
/// </summary>
internal sealed unsafe class X264Encoder : IFrameEncoder
{
    private readonly H264Options _options;
    private readonly double _fps;
    private readonly byte[] _pictureIn = new byte[X264Native.PictureBytes];
    private readonly byte[] _pictureOut = new byte[X264Native.PictureBytes];
    private BgrToI420Converter? _converter;
    private VideoFrame? _yuv;
    private nint _encoder;
    private int _width;
    private int _height;
    private long _pts;
    private int _keyframeRequested;
    private bool _disposed;

    public X264Encoder(H264Options? options = null, double fps = 30)
    {
        X264Library.EnsureAvailable();
        _options = options ?? H264Options.Default;
        _fps = fps is > 0 and < 1000 ? fps : 30;
    }

    public CodecId Codec => CodecId.H264;

    public FrameFlags LastFrameFlags { get; private set; }

    /// <summary>Keyframes made on request (not counting the periodic ones).</summary>
    public long KeyframesRequested { get; private set; }

    public int MaxEncodedSize(int width, int height) => checked((width * height * 2) + 65536);

    public void RequestKeyframe() => Volatile.Write(ref _keyframeRequested, 1);

    public int Encode(VideoFrame frame, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((frame.Width & 1) != 0 || (frame.Height & 1) != 0)
        {
            throw new ArgumentException($"H.264 needs an even picture size; {frame.Width}x{frame.Height} is not (use --size).");
        }

        if (_encoder == 0 || frame.Width != _width || frame.Height != _height)
        {
            Open(frame.Width, frame.Height);
        }

        VideoFrame yuv = frame;
        if (frame.Format != PixelFormat.I420)
        {
            if (_yuv is null || _yuv.Width != frame.Width || _yuv.Height != frame.Height)
            {
                _yuv?.Dispose();
                _yuv = VideoFrame.RentI420(frame.Width, frame.Height);
            }

            (_converter ??= new BgrToI420Converter()).Convert(frame, _yuv);
            yuv = _yuv;
        }

        bool forceKeyframe = Interlocked.Exchange(ref _keyframeRequested, 0) == 1;
        fixed (byte* pin = _pictureIn)
        fixed (byte* pout = _pictureOut)
        fixed (byte* pixels = yuv.Buffer)
        {
            X264Native.PictureInit(pin);
            int lumaSize = yuv.Width * yuv.Height;
            int chromaWidth = (yuv.Width + 1) / 2;
            int chromaSize = chromaWidth * ((yuv.Height + 1) / 2);
            byte* y = pixels + yuv.Offset;
            *(int*)(pin + X264Native.PictureImage + X264Native.ImageCsp) = X264Native.CspI420;
            *(int*)(pin + X264Native.PictureImage + X264Native.ImagePlanes) = 3;
            int* strides = (int*)(pin + X264Native.PictureImage + X264Native.ImageStride);
            strides[0] = yuv.Width;
            strides[1] = chromaWidth;
            strides[2] = chromaWidth;
            byte** planes = (byte**)(pin + X264Native.PictureImage + X264Native.ImagePlane);
            planes[0] = y;
            planes[1] = y + lumaSize;
            planes[2] = y + lumaSize + chromaSize;
            *(long*)(pin + X264Native.PicturePts) = _pts++;
            if (forceKeyframe)
            {
                // An IDR even with intra refresh: a joiner or a viewer that lost a frame can start only at an IDR (a
                // refresh sweep's recovery point is no keyframe for the room, docs/H264.md).
                KeyframesRequested++;
                *(int*)(pin + X264Native.PictureType) = X264Native.TypeIdr;
            }

            byte* nals;
            int count;
            int size = X264Native.EncoderEncode(_encoder, &nals, &count, pin, pout);
            if (size < 0)
            {
                throw new InvalidOperationException($"x264_encoder_encode failed ({size}).");
            }

            if (size == 0 || count == 0)
            {
                LastFrameFlags = FrameFlags.None;
                return 0;
            }

            if (size > destination.Length)
            {
                throw new InvalidOperationException($"The encoded frame ({size} bytes) is larger than its buffer ({destination.Length}).");
            }

            // The NALs of one frame are contiguous in x264's buffer, so the frame is one copy.
            byte* first = *(byte**)(nals + X264Native.NalPayload);
            new ReadOnlySpan<byte>(first, size).CopyTo(destination);
            LastFrameFlags = *(int*)(pout + X264Native.PictureType) == X264Native.TypeIdr ? FrameFlags.Keyframe : FrameFlags.None;
            return size;
        }
    }

    private void Open(int width, int height)
    {
        CloseEncoder();
        byte* param = stackalloc byte[X264Native.ParamBytes];
        new Span<byte>(param, X264Native.ParamBytes).Clear();
        if (X264Native.ParamDefaultPreset(param, _options.Preset, "zerolatency") < 0)
        {
            throw new ArgumentException($"x264 has no preset \"{_options.Preset}\".");
        }

        *(int*)(param + X264Native.ParamWidth) = width;
        *(int*)(param + X264Native.ParamHeight) = height;
        *(int*)(param + X264Native.ParamCsp) = X264Native.CspI420;
        int keyint = _options.KeyframeInterval > 0 ? _options.KeyframeInterval : Math.Max(1, (int)Math.Round(_fps * 2));
        int kbps = _options.BitrateFor(width, height, _fps);
        Set(param, "fps", _fps.ToString("0.###", CultureInfo.InvariantCulture));
        Set(param, "keyint", keyint.ToString(CultureInfo.InvariantCulture));
        Set(param, "min-keyint", keyint.ToString(CultureInfo.InvariantCulture));
        Set(param, "scenecut", "0");
        Set(param, "bframes", "0");
        Set(param, "bitrate", kbps.ToString(CultureInfo.InvariantCulture));
        // A one-frame VBV buffer caps each frame near the average: no frame waits behind a big one on the wire.
        Set(param, "vbv-maxrate", kbps.ToString(CultureInfo.InvariantCulture));
        Set(param, "vbv-bufsize", Math.Max(1, (int)(kbps / _fps * 2)).ToString(CultureInfo.InvariantCulture));
        Set(param, "repeat-headers", "1");
        Set(param, "annexb", "1");
        Set(param, "fullrange", "on");
        Set(param, "colormatrix", "bt470bg");
        Set(param, "threads", _options.Threads.ToString(CultureInfo.InvariantCulture));
        Set(param, "sliced-threads", "1");
        Set(param, "log", "-1");
        if (_options.IntraRefresh)
        {
            Set(param, "intra-refresh", "1");
        }

        // Constrained baseline: no B-frames, CAVLC, no 8x8 transform, so every WebCodecs and hardware decoder takes it.
        if (X264Native.ParamApplyProfile(param, "baseline") < 0)
        {
            throw new InvalidOperationException("x264 refused the baseline profile.");
        }

        _encoder = X264Native.EncoderOpen(param);
        if (_encoder == 0)
        {
            throw new InvalidOperationException($"x264 could not open an encoder for {width}x{height}.");
        }

        _width = width;
        _height = height;
        _pts = 0;
    }

    private static void Set(byte* param, string name, string value)
    {
        int result = X264Native.ParamParse(param, name, value);
        if (result != 0)
        {
            throw new InvalidOperationException($"x264 refused {name}={value} ({result}).");
        }
    }

    private void CloseEncoder()
    {
        if (_encoder != 0)
        {
            X264Native.EncoderClose(_encoder);
            _encoder = 0;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        CloseEncoder();
        _converter?.Dispose();
        _yuv?.Dispose();
    }
}
