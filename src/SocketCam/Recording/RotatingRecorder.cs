using Microsoft.Extensions.Logging;
using SocketCam.Media;

namespace SocketCam.Recording;

/// <summary>
/// A series of files: the first frame opens a file, and a frame that would take the current file past
/// <see cref="RecordingOptions.MaxFileBytes"/>, or past <see cref="RecordingOptions.MaxFileDuration"/> of capture time,
/// finishes it and starts the next one. Files change only between frames, and each one is finished on its own, so
/// every file plays by itself. Audio goes into the open file; when audio starts while the open file has no audio track
/// (the publisher added one later), that file is finished and the next one, which has the track, starts with it.
/// H.264 files change only before a keyframe (each file starts with one), and a change of video codec (JPEG ⇄ H.264)
/// starts a new file, opened for that codec (a directory of .mjpeg files records an H.264 room as .mkv).
/// </summary>
internal sealed class RotatingRecorder : IFrameRecorder
{
    private readonly Func<long, CodecId, IFrameRecorder> _open;
    private readonly string _name;
    private readonly RecordingOptions _options;
    private readonly ILogger _logger;
    private readonly List<string> _files = [];
    private readonly RecordingQuota? _quota;
    private IFrameRecorder? _current;
    private long _currentStartMicros;
    private CodecId? _currentCodec;
    private CodecId _lastCodec = CodecId.Jpeg;
    private long _closedSkipped;
    private int _audioChannels;
    private long _closedAudio;
    private long _closedFrames;
    private long _closedBytes;

    /// <param name="open">Creates the next file, given the capture time (µs) of what will be the first in it.</param>
    /// <param name="quota">The directory's size cap and free-space margin; over it, the open file is finished and frames are skipped.</param>
    public RotatingRecorder(string name, Func<long, IFrameRecorder> open, RecordingOptions options, ILogger logger, RecordingQuota? quota = null)
        : this(name, (start, _) => open(start), options, logger, quota)
    {
    }

    /// <param name="open">
    /// Creates the next file, given the capture time (µs) of what will be the first in it and the video codec it will hold
    /// (the last one seen when audio opens it).
    /// </param>
    /// <param name="quota">The directory's size cap and free-space margin; over it, the open file is finished and frames are skipped.</param>
    public RotatingRecorder(string name, Func<long, CodecId, IFrameRecorder> open, RecordingOptions options, ILogger logger, RecordingQuota? quota = null)
    {
        _quota = quota;
        _name = name;
        _open = open;
        _options = options;
        _logger = logger;
    }

    public string Description
    {
        get
        {
            lock (_files)
            {
                return _files.Count switch
                {
                    0 => "no file",
                    1 => _files[0],
                    _ => $"{_files.Count} files ({_files[0]} ... {Path.GetFileName(_files[^1])})",
                };
            }
        }
    }

    public long FramesWritten => Interlocked.Read(ref _closedFrames) + (Volatile.Read(ref _current)?.FramesWritten ?? 0);

    public long BytesWritten => Interlocked.Read(ref _closedBytes) + (Volatile.Read(ref _current)?.BytesWritten ?? 0);

    public int AudioChannels
    {
        get => _audioChannels;
        set
        {
            _audioChannels = value;
            if (_current is not null)
            {
                // Takes effect only if the file has not started yet.
                _current.AudioChannels = value;
            }
        }
    }

    public bool AcceptsAudio => _audioChannels > 0;

    public long AudioPacketsWritten => Interlocked.Read(ref _closedAudio) + (Volatile.Read(ref _current)?.AudioPacketsWritten ?? 0);

    /// <summary>JPEG and H.264: a codec the open file cannot hold goes to a new file, opened for it.</summary>
    public bool CanRecord(CodecId codec) => codec is CodecId.Jpeg or CodecId.H264;

    public long FramesSkipped => Interlocked.Read(ref _closedSkipped) + (Volatile.Read(ref _current)?.FramesSkipped ?? 0);

    /// <summary>The files written so far, oldest first.</summary>
    public IReadOnlyList<string> Files
    {
        get
        {
            lock (_files)
            {
                return [.. _files];
            }
        }
    }

    public async ValueTask WriteAsync(JpegFrame frame, CancellationToken cancellationToken)
    {
        if (_quota is not null && !_quota.TryAdmit(frame.Data.Length))
        {
            // Out of room: finish the file (so it plays) and skip frames until the quota lets them in again.
            if (_current is not null)
            {
                await CloseCurrentAsync(cancellationToken);
            }

            return;
        }

        if (_current is not null && (_currentCodec is { } codec ? codec != frame.Codec : !_current.CanRecord(frame.Codec)))
        {
            // Another codec: a file holds one.
            await CloseCurrentAsync(cancellationToken);
        }
        else if (_current is not null && IsFull(_current, frame))
        {
            await CloseCurrentAsync(cancellationToken);
        }

        _lastCodec = frame.Codec;
        _current ??= Open(frame.CaptureMicros);
        if (!_current.CanRecord(frame.Codec))
        {
            throw new IOException($"{_current.Description} cannot hold {frame.Codec} video: .mjpeg files hold JPEGs only; record to .mkv or .mp4.");
        }

        _currentCodec ??= frame.Codec;
        await _current.WriteAsync(frame, cancellationToken);
    }

    public async ValueTask WriteAudioAsync(OpusPacket packet, CancellationToken cancellationToken)
    {
        if (_quota is not null && !_quota.TryAdmit(packet.Data.Length))
        {
            if (_current is not null)
            {
                await CloseCurrentAsync(cancellationToken);
            }

            return;
        }

        if (_current is { AcceptsAudio: false } current && current.AudioChannels > 0 && current.FramesWritten > 0)
        {
            // Audio arrived for a file that started without an audio track: the next file has one.
            await CloseCurrentAsync(cancellationToken);
        }

        _current ??= Open(packet.CaptureMicros);
        await _current.WriteAudioAsync(packet, cancellationToken);
    }

    public async ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        if (_current is not null)
        {
            await CloseCurrentAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_current is not null)
        {
            await _current.DisposeAsync();
        }
    }

    private IFrameRecorder Open(long firstCaptureMicros)
    {
        IFrameRecorder next = _open(firstCaptureMicros, _lastCodec);
        next.AudioChannels = _audioChannels;
        lock (_files)
        {
            _files.Add(next.Description);
        }

        _currentStartMicros = firstCaptureMicros;
        Volatile.Write(ref _current, next);
        RecordingLog.FileOpened(_logger, _name, next.Description);
        return next;
    }

    private bool IsFull(IFrameRecorder current, in JpegFrame next)
    {
        if (current.FramesWritten == 0 || (next.Codec == CodecId.H264 && !next.Keyframe))
        {
            // An H.264 file ends just before a keyframe, so the next one starts with it and loses nothing.
            return false;
        }

        long maxBytes = _options.MaxFileBytes;
        if (maxBytes > 0 && current.BytesWritten + next.Data.Length > maxBytes)
        {
            return true;
        }

        TimeSpan maxDuration = _options.MaxFileDuration;
        return maxDuration > TimeSpan.Zero && next.CaptureMicros - _currentStartMicros >= (long)(maxDuration.TotalMilliseconds * 1000);
    }

    private async ValueTask CloseCurrentAsync(CancellationToken cancellationToken)
    {
        IFrameRecorder current = _current!;
        try
        {
            await current.CompleteAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Add(ref _closedFrames, current.FramesWritten);
            Interlocked.Add(ref _closedAudio, current.AudioPacketsWritten);
            Interlocked.Add(ref _closedSkipped, current.FramesSkipped);
            _currentCodec = null;
            Interlocked.Add(ref _closedBytes, current.BytesWritten);
            Volatile.Write(ref _current, null);
            await current.DisposeAsync();
        }

        RecordingLog.FileClosed(_logger, _name, current.Description, current.FramesWritten, current.BytesWritten);
    }
}
