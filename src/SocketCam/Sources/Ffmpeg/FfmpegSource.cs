using Microsoft.Extensions.Logging;
using SocketCam.Codecs;
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
/// by exact size and handed to our encoder. When ffmpeg exits, the next read starts it again, so the caller decides how
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
        _output = options.Passthrough && spec.Kind is SourceKind.Camera or SourceKind.Lavfi ? FfmpegOutput.Mjpeg : FfmpegOutput.Y4m;
        Fps = options.Fps ?? 0;
    }

    public string Description => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{_spec} {Width}x{Height}{(Fps > 0 ? $" @ {Fps:0.##} fps" : "")}, {(_output == FfmpegOutput.Mjpeg ? (_spec.Kind == SourceKind.Camera ? "camera MJPEG passed through" : "ffmpeg MJPEG passed through") : "decoded by ffmpeg")}");

    public int Width { get; private set; }

    public int Height { get; private set; }

    public double Fps { get; private set; }

    public bool ProvidesJpeg => _output == FfmpegOutput.Mjpeg;

    /// <summary>The running ffmpeg's process id, or 0 (tests kill it to simulate a crash).</summary>
    internal int ProcessId => _process?.Id ?? 0;

    /// <summary>
    /// Starts ffmpeg and waits for its first frame, so a wrong device, file or display is reported at once as one line.
    /// A camera without MJPEG is retried in raw mode.
    /// </summary>
    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            try
            {
                await StartAsync(cancellationToken);
            }
            catch (SourceFailedException) when (_spec.Kind == SourceKind.Camera && _output == FfmpegOutput.Mjpeg)
            {
                SourceLog.FallingBackToRaw(_logger, _spec.ToString());
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
        if (_output != FfmpegOutput.Mjpeg)
        {
            throw new InvalidOperationException("This source decodes: use ReadFrameAsync.");
        }

        if (_pending is { } first)
        {
            _pending = null;
            return first;
        }

        if (_process is null)
        {
            // Not running: paused, ended or failed. Reading again starts it again (the caller decided to retry).
            await StartAsync(cancellationToken);
            MediaFrame? started = _pending;
            _pending = null;
            return started;
        }

        return await NextJpegAsync(cancellationToken);
    }

    public async ValueTask<VideoFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
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
