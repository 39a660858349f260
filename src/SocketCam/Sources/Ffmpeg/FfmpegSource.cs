using Microsoft.Extensions.Logging;
using SocketCam.Codecs;
using SocketCam.Codecs.H264;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Diagnostics;
using SocketCam.Ffmpeg;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Sources.Ffmpeg;

/// <summary>
/// Frames from an ffmpeg child process: cameras, files, screens and lavfi graphs. In MJPEG mode the JPEGs ffmpeg writes
/// (a camera's own, copied) are split by marker walking and sent as they are; in Y4M mode decoded I420 pictures are read
/// by exact size and handed to our encoder. With <see cref="SourceOptions.Codec"/> H.264, a camera's H.264 or a file's
/// (when ffprobe finds H.264 without B-frames) is copied through as Annex B, split into access units and sent as it is;
/// files are paced here at their own rate, as decoded files are. When ffmpeg exits, the next read starts it again, so the caller decides how
/// to retry; a camera that cannot give MJPEG falls back to raw frames.
/// </summary>
internal sealed class FfmpegSource : IEncodedFrameSource, IPausableSource
{
    private readonly SourceSpec _spec;
    private readonly SourceOptions _options;
    private readonly ILogger _logger;
    private FfmpegOutput _output;
    private FfmpegProcess? _process;
    private Y4mReader? _y4m;
    private MjpegStreamSplitter? _splitter;
    private AnnexBAccessUnitSplitter? _units;
    private MediaFrame? _pending;
    private JpegDecoder? _decoder;
    private FramePacer? _pacer;
    private long _sequence;
    private long _framesThisRun;

    public FfmpegSource(SourceSpec spec, SourceOptions options, ILogger logger)
    {
        _spec = spec;
        _options = options;
        _logger = logger;
        _output = !options.Passthrough ? FfmpegOutput.Y4m
            : options.Codec == CodecId.H264 && spec.Kind == SourceKind.Camera ? FfmpegOutput.H264
            : spec.Kind == SourceKind.Camera || (spec.Kind == SourceKind.Lavfi && options.Codec == CodecId.Jpeg) ? FfmpegOutput.Mjpeg
            : FfmpegOutput.Y4m;
        Fps = options.Fps ?? 0;
    }

    public string Description => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{_spec} {Width}x{Height}{(Fps > 0 ? $" @ {Fps:0.##} fps" : "")}, {_output switch
        {
            FfmpegOutput.Mjpeg => _spec.Kind == SourceKind.Camera ? "camera MJPEG passed through" : "ffmpeg MJPEG passed through",
            FfmpegOutput.H264 => _spec.Kind == SourceKind.Camera ? "camera H.264 passed through" : "H.264 passed through",
            _ => "decoded by ffmpeg",
        }}");

    public int Width { get; private set; }

    public int Height { get; private set; }

    public double Fps { get; private set; }

    public CodecId? ProvidedCodec => _output switch
    {
        FfmpegOutput.Mjpeg => CodecId.Jpeg,
        FfmpegOutput.H264 => CodecId.H264,
        _ => null,
    };

    /// <summary>The running ffmpeg's process id, or 0 (tests kill it to simulate a crash).</summary>
    internal int ProcessId => _process?.Id ?? 0;

    /// <summary>
    /// Starts ffmpeg and waits for its first frame, so a wrong device, file or display is reported at once as one line.
    /// A camera without MJPEG is retried in raw mode.
    /// </summary>
    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        if (_options.Codec == CodecId.H264 && _options.Passthrough && _spec.Kind == SourceKind.File)
        {
            await ChooseFileOutputAsync(cancellationToken);
        }

        try
        {
            try
            {
                await StartAsync(cancellationToken);
            }
            catch (SourceFailedException) when (_spec.Kind == SourceKind.Camera && _output is FfmpegOutput.Mjpeg or FfmpegOutput.H264)
            {
                if (_output == FfmpegOutput.H264)
                {
                    SourceLog.NoH264FromCamera(_logger, _spec.ToString());
                }
                else
                {
                    SourceLog.FallingBackToRaw(_logger, _spec.ToString());
                }

                _output = FfmpegOutput.Y4m;
                await StartAsync(cancellationToken);
            }
        }
        catch (SourceFailedException ex)
        {
            throw new UserFacingException($"cannot capture from {_spec}: {ex.Message}{Hint()}");
        }
    }

    public async ValueTask<MediaFrame?> ReadEncodedAsync(CancellationToken cancellationToken)
    {
        if (_output == FfmpegOutput.Y4m)
        {
            throw new InvalidOperationException("This source decodes: use ReadFrameAsync.");
        }

        if (_pending is { } first)
        {
            _pending = null;
            await PaceAsync(first, cancellationToken);
            return first;
        }

        if (_process is null)
        {
            // Not running: paused, ended or failed. Reading again starts it again (the caller decided to retry).
            await StartAsync(cancellationToken);
            MediaFrame? started = _pending;
            _pending = null;
            if (started is not null)
            {
                await PaceAsync(started, cancellationToken);
            }

            return started;
        }

        if (_output == FfmpegOutput.H264)
        {
            // A file's units are released at its own rate, then stamped: the capture time is when it is sent on.
            if (_pacer is not null)
            {
                await _pacer.WaitAsync(cancellationToken);
            }

            return await NextAccessUnitAsync(cancellationToken);
        }

        return await NextJpegAsync(cancellationToken);
    }

    /// <summary>The first unit of a run waits for the pacer's first slot too (so the next is one interval later).</summary>
    private async ValueTask PaceAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        if (_output == FfmpegOutput.H264 && _pacer is not null)
        {
            try
            {
                await _pacer.WaitAsync(cancellationToken);
            }
            catch
            {
                frame.Release();
                throw;
            }
        }
    }

    /// <summary>
    /// <c>--codec h264</c> with a file: passed through when ffprobe finds H.264 the live path can carry as it is, else
    /// decoded and encoded (one log line says why). A size or rate the user asked for needs re-encoding too.
    /// </summary>
    private async Task ChooseFileOutputAsync(CancellationToken cancellationToken)
    {
        string? refusal;
        VideoStreamInfo? info = null;
        if (_options.Size is not null)
        {
            refusal = "--size asks for scaling";
        }
        else if (_options.Fps is > 0)
        {
            refusal = "--fps asks for another frame rate";
        }
        else
        {
            info = await VideoProbe.ProbeAsync(_spec.Argument, cancellationToken);
            refusal = info is null ? "ffprobe could not read its video stream" : info.H264PassthroughRefusal();
        }

        if (refusal is not null)
        {
            SourceLog.NotPassedThrough(_logger, _spec.ToString(), refusal);
            _output = FfmpegOutput.Y4m;
            return;
        }

        _output = FfmpegOutput.H264;
        if (_options.Paced)
        {
            Fps = info!.Fps;
        }
    }

    public async ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        if (_output == FfmpegOutput.H264)
        {
            throw new InvalidOperationException("This source passes H.264 through: use ReadEncodedAsync.");
        }

        while (_output == FfmpegOutput.Mjpeg)
        {
            MediaFrame? jpeg = await ReadEncodedAsync(cancellationToken);
            if (jpeg is null)
            {
                return null;
            }

            VideoFrame? frame = null;
            try
            {
                frame = VideoFrame.Rent(jpeg.Header.Width, jpeg.Header.Height);
                (_decoder ??= new JpegDecoder()).Decode(jpeg.Data, jpeg.Header.Width, jpeg.Header.Height, frame);
                frame.Sequence = jpeg.Header.Sequence;
                frame.CaptureMicros = jpeg.Header.CaptureMicros;
                VideoFrame decoded = frame;
                frame = null;
                return decoded;
            }
            catch (Exception ex) when (ex is InvalidDataException or ArgumentOutOfRangeException)
            {
                // Cameras send the odd corrupt JPEG (or one too large for us): skip it, keep the stream.
                SourceLog.CorruptJpeg(_logger, _spec.ToString(), 1, ex.Message);
            }
            finally
            {
                frame?.Dispose();
                jpeg.Release();
            }
        }

        if (_process is null)
        {
            await StartAsync(cancellationToken);
        }

        if (_pacer is not null)
        {
            await _pacer.WaitAsync(cancellationToken);
        }

        VideoFrame? picture;
        try
        {
            picture = await _y4m!.ReadFrameAsync(cancellationToken);
        }
        catch (InvalidDataException ex)
        {
            await StopProcessAsync();
            SourceLog.Failed(_logger, _spec.ToString(), ex.Message);
            throw new SourceFailedException($"unreadable ffmpeg output: {ex.Message}", ex);
        }

        if (picture is null)
        {
            await EndOfStreamAsync();
            return null;
        }

        picture.Sequence = _sequence++;
        picture.CaptureMicros = Clock.NowMicros();
        _framesThisRun++;
        return picture;
    }

    /// <summary>Live sources stop ffmpeg (freeing the camera); a file keeps its place, since ffmpeg just blocks.</summary>
    public async ValueTask PauseAsync()
    {
        if (_spec.Kind != SourceKind.File)
        {
            _pending?.Release();
            _pending = null;
            await StopProcessAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _pending?.Release();
        _pending = null;
        await StopProcessAsync();
        _decoder?.Dispose();
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        await StopProcessAsync();
        _framesThisRun = 0;
        _process = FfmpegProcess.Start(FfmpegArguments.Build(_spec, _options, _output), logger: _logger);
        try
        {
            if (_output == FfmpegOutput.Y4m)
            {
                _y4m = await Y4mReader.OpenAsync(_process.Output, cancellationToken);
                if (_y4m is null)
                {
                    await EndOfStreamAsync(startup: true);
                    return;
                }

                Width = _y4m.Header.Width;
                Height = _y4m.Header.Height;
                if (_options.Fps is null && _y4m.Header.Fps > 0 && _options.Paced)
                {
                    Fps = _y4m.Header.Fps;
                }

                // Files are read at their own rate here (live sources are paced by the device or -re).
                _pacer = _spec.Kind == SourceKind.File && Fps > 0 ? new FramePacer(Fps) : null;
            }
            else if (_output == FfmpegOutput.H264)
            {
                _units = new AnnexBAccessUnitSplitter(_process.Output, _options.MaxFrameBytes);
                // Files at their own rate (ffprobe's), as decoded files are; live cameras are paced by the device.
                _pacer = _spec.Kind == SourceKind.File && Fps > 0 ? new FramePacer(Fps) : null;
                _pending = await NextAccessUnitAsync(cancellationToken);
                if (_pending is null)
                {
                    await EndOfStreamAsync(startup: true);
                }
            }
            else
            {
                _splitter = new MjpegStreamSplitter(_process.Output, _options.MaxFrameBytes);
                _pending = await NextJpegAsync(cancellationToken);
                if (_pending is null)
                {
                    await EndOfStreamAsync(startup: true);
                }
            }
        }
        catch (InvalidDataException ex)
        {
            await StopProcessAsync();
            throw new SourceFailedException($"unreadable ffmpeg output: {ex.Message}", ex);
        }
    }

    private async ValueTask<MediaFrame?> NextJpegAsync(CancellationToken cancellationToken)
    {
        MjpegStreamSplitter splitter = _splitter!;
        long dropped = splitter.DroppedFrames;
        (ReadOnlyMemory<byte> jpeg, int width, int height) = await splitter.ReadFrameAsync(cancellationToken);
        if (splitter.DroppedFrames != dropped)
        {
            SourceLog.CorruptJpeg(_logger, _spec.ToString(), splitter.DroppedFrames - dropped, splitter.LastError ?? "");
        }

        if (jpeg.IsEmpty)
        {
            await EndOfStreamAsync();
            return null;
        }

        Width = width;
        Height = height;
        MediaFrame frame = MediaFrame.Rent(jpeg.Length);
        jpeg.Span.CopyTo(frame.WritableData);
        frame.Complete(new VideoFrameHeader(CodecId.Jpeg, width, height, _sequence++, Clock.NowMicros()), jpeg.Length);
        _framesThisRun++;
        return frame;
    }

    private async ValueTask<MediaFrame?> NextAccessUnitAsync(CancellationToken cancellationToken)
    {
        AnnexBAccessUnitSplitter splitter = _units!;
        long dropped = splitter.DroppedUnits;
        (ReadOnlyMemory<byte> unit, H264AccessUnitInfo info) = await splitter.ReadAccessUnitAsync(cancellationToken);
        if (splitter.DroppedUnits != dropped)
        {
            SourceLog.DroppedAccessUnits(_logger, _spec.ToString(), splitter.DroppedUnits - dropped, splitter.LastError ?? "");
        }

        if (unit.IsEmpty)
        {
            await EndOfStreamAsync();
            return null;
        }

        if (info.Width > 0)
        {
            // The size changes only with an SPS; units between keep the last one.
            Width = info.Width;
            Height = info.Height;
        }

        MediaFrame frame = MediaFrame.Rent(unit.Length);
        unit.Span.CopyTo(frame.WritableData);
        FrameFlags flags = info.IsIdr ? FrameFlags.Keyframe : FrameFlags.None;
        frame.Complete(new FrameInfo(TrackKind.Video, CodecId.H264, flags, Width, Height, _sequence++, Clock.NowMicros()), unit.Length);
        _framesThisRun++;
        return frame;
    }

    /// <summary>ffmpeg's output ended: a clean end (a file without --loop) returns null to the reader; anything else fails.</summary>
    private async Task EndOfStreamAsync(bool startup = false)
    {
        FfmpegProcess? process = _process;
        int exitCode = process is null ? -1 : await process.WaitForExitAsync(CancellationToken.None);
        string reason = process?.DescribeExit() ?? "ffmpeg stopped";
        long frames = _framesThisRun;
        await StopProcessAsync();
        if (exitCode == 0 && frames > 0)
        {
            SourceLog.Ended(_logger, _spec.ToString(), frames);
            return;
        }

        SourceLog.Failed(_logger, _spec.ToString(), reason);
        throw new SourceFailedException(startup && exitCode == 0 ? "ffmpeg produced no frames" : reason);
    }

    private async Task StopProcessAsync()
    {
        _y4m = null;
        _splitter = null;
        _units = null;
        if (_process is { } process)
        {
            _process = null;
            await process.DisposeAsync();
        }
    }

    private string Hint() => _spec.Kind switch
    {
        SourceKind.Camera => " (no camera? see `socketcam devices`, or use --source pattern)",
        SourceKind.Screen => " (is an X server running? use screen:DISPLAY, e.g. screen::0)",
        _ => "",
    };
}
