using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Media;

namespace SocketCam.Codecs.H264;

/// <summary>
/// H.264 access units to pictures with libavcodec (docs/H264.md: chosen over OpenH264 by measurement). Low delay: a
/// picture comes out for each access unit (our streams have no B-frames). Every error the decoder reports, including
/// the ones it conceals (a missing reference, a damaged slice), is counted in <see cref="Errors"/>: the delivery rules
/// mean a viewer never feeds it a frame whose reference it lacks, and the tests hold it to that. Not thread-safe.
/// </summary>
internal sealed unsafe class H264Decoder : IFrameDecoder
{
    /// <summary>Decoders by their codec context, so the library's log lines (which name the context) count against the right one.</summary>
    private static readonly ConcurrentDictionary<nint, H264Decoder> ByContext = new();
    private static int _callbackInstalled;

    private nint _context;
    private nint _packet;
    private nint _frame;
    private byte[] _input = new byte[64 * 1024];
    private readonly ReferenceCheck _references = new();
    private YuvToBgrConverter? _toBgr;
    private long _errors;
    private string? _lastError;
    private bool _disposed;

    public H264Decoder()
    {
        AvCodecLibrary.EnsureAvailable();
        InstallLogCallback();
        nint codec = AvCodecNative.FindDecoder(AvCodecNative.CodecIdH264);
        if (codec == 0)
        {
            throw new Diagnostics.NativeDependencyException("This libavcodec has no H.264 decoder: install Debian's libavcodec59.");
        }

        _context = AvCodecNative.AllocContext(codec);
        if (_context == 0)
        {
            throw new InvalidOperationException("avcodec_alloc_context3 failed.");
        }

        // Slice threads only: frame threads would hold pictures back (one per thread) and cost latency.
        AvCodecNative.OptSet(_context, "threads", "2", 0);
        AvCodecNative.OptSet(_context, "thread_type", "slice", 0);
        AvCodecNative.OptSet(_context, "flags", "low_delay", 0);
        ByContext[_context] = this;
        int result = AvCodecNative.Open(_context, codec, 0);
        if (result < 0)
        {
            Dispose();
            throw new InvalidOperationException($"avcodec_open2 failed ({result}).");
        }

        _packet = AvCodecNative.PacketAlloc();
        _frame = AvCodecNative.FrameAlloc();
    }

    public CodecId Codec => CodecId.H264;

    /// <summary>Errors the decoder reported (log lines at error level, pictures flagged as damaged, refused packets).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>The last error the decoder reported, for a one-line explanation.</summary>
    public string? LastError => Volatile.Read(ref _lastError);

    public long PicturesDecoded { get; private set; }

    /// <summary>
    /// True until a keyframe (an IDR access unit) arrives, and again after an error: until then access
    /// units are skipped (<see cref="SkippedWaiting"/>), never decoded against pictures the decoder does not have.
    /// </summary>
    public bool WaitingForKeyframe { get; private set; } = true;

    /// <summary>Access units skipped while waiting for a keyframe.</summary>
    public long SkippedWaiting { get; private set; }

    /// <summary>
    /// Decodes one access unit into a new packed, full-range I420 frame (pooled: the caller disposes it), or returns null
    /// when the decoder gave no picture for it. Throws <see cref="InvalidDataException"/> when the decoder refuses it.
    /// </summary>
    public VideoFrame? DecodeToI420(ReadOnlySpan<byte> accessUnit)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (accessUnit.IsEmpty)
        {
            throw new InvalidDataException("Empty H.264 access unit.");
        }

        if (IsKeyframe(accessUnit))
        {
            if (WaitingForKeyframe)
            {
                AvCodecNative.FlushBuffers(_context);
                _references.Reset();
                WaitingForKeyframe = false;
            }
        }
        else if (WaitingForKeyframe)
        {
            SkippedWaiting++;
            return null;
        }

        if (!_references.Check(accessUnit))
        {
            Interlocked.Increment(ref _errors);
            Volatile.Write(ref _lastError, "a reference picture is missing (frame_num gap)");
        }

        // The bitstream reader may read up to 64 bytes past the end: the unit goes into our own zero-padded buffer.
        int needed = accessUnit.Length + AvCodecNative.InputPadding;
        if (_input.Length < needed)
        {
            _input = new byte[Math.Max(needed, _input.Length * 2)];
        }

        accessUnit.CopyTo(_input);
        _input.AsSpan(accessUnit.Length, AvCodecNative.InputPadding).Clear();
        fixed (byte* data = _input)
        {
            *(byte**)(_packet + AvCodecNative.PacketData) = data;
            *(int*)(_packet + AvCodecNative.PacketSize) = accessUnit.Length;
            int sent = AvCodecNative.SendPacket(_context, _packet);
            if (sent == AvCodecNative.ErrorAgain)
            {
                // Pictures are waiting to be taken (odd input gave more than one): take them, then the unit goes in.
                Drain()?.Dispose();
                sent = AvCodecNative.SendPacket(_context, _packet);
            }

            *(byte**)(_packet + AvCodecNative.PacketData) = null;
            *(int*)(_packet + AvCodecNative.PacketSize) = 0;
            if (sent < 0)
            {
                Interlocked.Increment(ref _errors);
                WaitingForKeyframe = true;
                throw new InvalidDataException($"The H.264 decoder refused the access unit ({LastError ?? "error " + sent}).");
            }
        }

        return Drain();
    }

    /// <summary>Takes every picture the decoder has ready and returns the last (the others are released), or null.</summary>
    private VideoFrame? Drain()
    {
        VideoFrame? picture = null;
        try
        {
            while (true)
            {
                int received = AvCodecNative.ReceiveFrame(_context, _frame);
                if (received == AvCodecNative.ErrorAgain || received == AvCodecNative.ErrorEof)
                {
                    return picture;
                }

                if (received < 0)
                {
                    Interlocked.Increment(ref _errors);
                    WaitingForKeyframe = true;
                    throw new InvalidDataException($"The H.264 decoder failed ({LastError ?? "error " + received}).");
                }

                try
                {
                    picture?.Dispose();
                    picture = null;
                    picture = CopyPicture();
                }
                finally
                {
                    AvCodecNative.FrameUnref(_frame);
                }
            }
        }
        catch
        {
            picture?.Dispose();
            throw;
        }
    }

    /// <summary>IFrameDecoder: one access unit to BGR24; while waiting for a keyframe an InvalidDataException, with <see cref="WaitingForKeyframe"/> set.</summary>
    public void Decode(ReadOnlySpan<byte> payload, int width, int height, VideoFrame destination)
    {
        using VideoFrame picture = DecodeToI420(payload)
            ?? (WaitingForKeyframe
                ? throw new InvalidDataException("Waiting for an H.264 keyframe.")
                : throw new InvalidDataException("The H.264 access unit gave no picture."));
        if (picture.Width != width || picture.Height != height)
        {
            throw new InvalidDataException($"The H.264 picture is {picture.Width}x{picture.Height} but the frame was declared as {width}x{height}.");
        }

        destination.RequireBgr24("The H.264 decoder's BGR output");
        (_toBgr ??= new YuvToBgrConverter()).Convert(picture, destination.Buffer.AsSpan(destination.Offset), destination.Stride);
    }

    /// <summary>Forgets every reference picture: the next picture decoded is the next keyframe.</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        AvCodecNative.FlushBuffers(_context);
        _references.Reset();
        WaitingForKeyframe = true;
    }

    /// <summary>An access unit that starts decoding: an IDR picture (its SPS and PPS come before it, AnnexB.Inspect sees to that).</summary>
    internal static bool IsKeyframe(ReadOnlySpan<byte> accessUnit)
    {
        foreach (NalUnit nal in AnnexB.NalUnits(accessUnit))
        {
            if (nal.Type == AnnexB.IdrSlice)
            {
                return true;
            }

            if (nal.Type == AnnexB.NonIdrSlice)
            {
                return false; // a non-IDR slice came first
            }
        }

        return false;
    }

    private VideoFrame CopyPicture()
    {
        byte* f = (byte*)_frame;
        int width = *(int*)(f + AvCodecNative.FrameWidth);
        int height = *(int*)(f + AvCodecNative.FrameHeight);
        int format = *(int*)(f + AvCodecNative.FrameFormat);
        if (format is not (AvCodecNative.PixelFormatYuv420P or AvCodecNative.PixelFormatYuvj420P))
        {
            Interlocked.Increment(ref _errors);
            throw new InvalidDataException($"The H.264 stream is not 4:2:0 8-bit (pixel format {format}); only that is shown.");
        }

        if (*(int*)(f + AvCodecNative.FrameDecodeErrorFlags) != 0)
        {
            Interlocked.Increment(ref _errors);
            Volatile.Write(ref _lastError, "the picture was damaged (concealed)");
        }

        bool fullRange = format == AvCodecNative.PixelFormatYuvj420P || *(int*)(f + AvCodecNative.FrameColorRange) == AvCodecNative.ColorRangeJpeg;
        VideoFrame picture = VideoFrame.RentI420(width, height);
        try
        {
            byte** planes = (byte**)(f + AvCodecNative.FrameData);
            int* linesizes = (int*)(f + AvCodecNative.FrameLinesize);
            Span<byte> target = picture.Pixels;
            int chromaWidth = (width + 1) / 2;
            int chromaHeight = (height + 1) / 2;
            CopyPlane(planes[0], linesizes[0], width, height, target[..(width * height)]);
            CopyPlane(planes[1], linesizes[1], chromaWidth, chromaHeight, target.Slice(width * height, chromaWidth * chromaHeight));
            CopyPlane(planes[2], linesizes[2], chromaWidth, chromaHeight, target.Slice((width * height) + (chromaWidth * chromaHeight), chromaWidth * chromaHeight));
            if (!fullRange)
            {
                YuvRange.ExpandToFullRange(picture);
            }

            PicturesDecoded++;
            return picture;
        }
        catch
        {
            picture.Dispose();
            throw;
        }
    }

    private static void CopyPlane(byte* source, int stride, int width, int height, Span<byte> target)
    {
        for (int row = 0; row < height; row++)
        {
            new ReadOnlySpan<byte>(source + ((long)row * stride), width).CopyTo(target.Slice(row * width, width));
        }
    }

    private static void InstallLogCallback()
    {
        if (Interlocked.Exchange(ref _callbackInstalled, 1) == 0)
        {
            AvCodecNative.LogSetCallback(&OnLog);
        }
    }

    /// <summary>libav's log lines: errors count against the decoder whose context logged them; nothing is printed (the CLI stays quiet).</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(nint context, int level, nint format, nint args)
    {
        if (level > AvCodecNative.LogError || format == 0 || !ByContext.TryGetValue(context, out H264Decoder? decoder))
        {
            return;
        }

        Interlocked.Increment(ref decoder._errors);
        byte* text = stackalloc byte[256];
        int length = AvCodecNative.VsnPrintf(text, 256, format, args);
        if (length > 0)
        {
            string line = Encoding.UTF8.GetString(text, Math.Min(length, 255)).Trim();
            Volatile.Write(ref decoder._lastError, line);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_context != 0)
        {
            ByContext.TryRemove(_context, out _);
            nint context = _context;
            AvCodecNative.FreeContext(&context);
            _context = 0;
        }

        nint packet = _packet;
        if (packet != 0)
        {
            AvCodecNative.PacketFree(&packet);
            _packet = 0;
        }

        nint frame = _frame;
        if (frame != 0)
        {
            AvCodecNative.FrameFree(&frame);
            _frame = 0;
        }

        _toBgr?.Dispose();
    }
}
