using System.Globalization;
using Microsoft.Extensions.Logging;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Media;
using SocketCam.Rooms;

namespace SocketCam.Recording;

/// <summary>
/// Records every room of a hub into one directory (serve --record DIR): the hub's own capture room and every room a
/// remote publisher feeds, as rooms come and go. Each room's frames go to files named <c>ROOM-yyyyMMdd-HHmmss.EXT</c>
/// (UTC, the time the file was started; <c>-2</c>, <c>-3</c>... if that name is taken), rotated by size and capture
/// time (<see cref="RotatingRecorder"/>). A file is created with the room's first frame, so a room nobody publishes
/// to leaves no file. Disposing finishes every recording.
/// </summary>
public sealed class RecordingDirectory : IRoomObserver, IAsyncDisposable
{
    private readonly RecordingFormat _format;
    private readonly RecordingOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<Room, RecordingSink> _active = [];
    private readonly List<(RecordingSink Sink, Task Finish)> _finishing = [];
    private readonly List<string> _finishedFiles = [];
    private readonly List<Exception> _finishedFailures = [];
    private long _finishedFrames;
    private long _finishedAudio;
    private long _finishedBytes;
    private bool _disposed;
    private RecordingQuota? _quota;

    /// <summary>Creates <paramref name="directory"/> if missing and checks the format's tools (ffmpeg); <see cref="AttachTo"/> starts recording.</summary>
    public RecordingDirectory(string directory, RecordingFormat format, RecordingOptions options, ILoggerFactory loggers)
    {
        _format = format;
        _options = options;
        _logger = loggers.CreateLogger("SocketCam.Recording");
        RecordingFormats.EnsureTools(format);

        try
        {
            FullPath = Directory.CreateDirectory(directory).FullName;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"--record '{directory}': cannot create the directory: {ex.Message}", ex);
        }

        _quota = new RecordingQuota(FullPath, options, _logger);
    }

    /// <summary>
    /// Records every room of <paramref name="hub"/> from now on; stops for the directory's size cap or the disk's free-space
    /// margin are counted in the hub's refusals (/metrics).
    /// </summary>
    public void AttachTo(HubServer hub)
    {
        _quota = new RecordingQuota(FullPath, _options, _logger, hub.Guards.Refusals);
        hub.AddRoomObserver(this);
    }

    /// <summary>The directory's size cap and free-space margin (bytes used, frames not recorded, why stopped).</summary>
    internal RecordingQuota Quota => _quota!;

    internal string FullPath { get; }

    internal RecordingFormat Format => _format;

    internal RecordingOptions Options => _options;

    /// <summary>Frames recorded in all rooms so far.</summary>
    internal long FramesRecorded
    {
        get
        {
            lock (_lock)
            {
                return _finishedFrames + LiveSinks().Sum(s => s.FramesRecorded);
            }
        }
    }

    /// <summary>Opus packets recorded in all rooms so far.</summary>
    internal long AudioPacketsRecorded
    {
        get
        {
            lock (_lock)
            {
                return _finishedAudio + LiveSinks().Sum(s => s.AudioPacketsRecorded);
            }
        }
    }

    /// <summary>Bytes written to the directory's files so far (`/api/stats`' recordingBytes).</summary>
    public long BytesRecorded
    {
        get
        {
            lock (_lock)
            {
                return _finishedBytes + LiveSinks().Sum(s => s.BytesRecorded);
            }
        }
    }

    /// <summary>Every file started so far (per room, oldest first).</summary>
    internal IReadOnlyList<string> Files
    {
        get
        {
            lock (_lock)
            {
                return [.. _finishedFiles, .. LiveSinks().SelectMany(s => ((RotatingRecorder)s.Recorder).Files)];
            }
        }
    }

    /// <summary>Recordings that stopped on an error.</summary>
    internal IReadOnlyList<Exception> Failures
    {
        get
        {
            lock (_lock)
            {
                return [.. _finishedFailures, .. LiveSinks().Select(s => s.Failure).OfType<Exception>()];
            }
        }
    }

    void IRoomObserver.OnRoomCreated(Room room)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            string name = $"room '{room.Name}'";
            var recorder = new RotatingRecorder(name, (_, codec) => OpenFile(room.Name, codec), _options, _logger, _quota);
            var sink = RecordingSink.Start(name, recorder, _options, _logger);
            _active[room] = sink;
            room.AddRecorder(sink);
        }
    }

    void IRoomObserver.OnRoomRemoved(Room room)
    {
        lock (_lock)
        {
            if (_active.Remove(room, out RecordingSink? sink))
            {
                room.RemoveRecorder(sink);
                PruneFinished();
                // The room is gone, so no frame can follow: finish its file now; shutdown awaits it if it is still going.
                _finishing.Add((sink, sink.CompleteAsync()));
            }
        }
    }

    /// <summary>Finishes every recording (what is queued is written, every file closed); the counts stay readable.</summary>
    public async ValueTask DisposeAsync()
    {
        List<(RecordingSink Sink, Task Finish)> finishing;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach ((Room room, RecordingSink sink) in _active)
            {
                room.RemoveRecorder(sink);
                _finishing.Add((sink, sink.CompleteAsync()));
            }

            _active.Clear();
            finishing = [.. _finishing];
        }

        await Task.WhenAll(finishing.Select(f => f.Finish));
        lock (_lock)
        {
            PruneFinished();
        }
    }

    private IFrameRecorder OpenFile(string room, CodecId codec)
    {
        string stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        // .mjpeg holds JPEGs only: an H.264 room is recorded as .mkv (stream copy) instead.
        RecordingFormat format = codec == CodecId.H264 && _format == RecordingFormat.Mjpeg ? RecordingFormat.Matroska : _format;
        string extension = RecordingFormats.Extension(format);
        for (int attempt = 1; ; attempt++)
        {
            string file = attempt == 1 ? $"{room}-{stamp}{extension}" : $"{room}-{stamp}-{attempt}{extension}";
            string path = Path.Combine(FullPath, file);
            try
            {
                // overwrite: false: creating the file is what reserves its name, so two files never share one.
                return FrameRecorders.Create(format, path, _options, overwrite: false, _logger);
            }
            catch (IOException) when (File.Exists(path) && attempt < 1000)
            {
            }
        }
    }

    /// <summary>Recordings not yet folded into the totals; call under the lock.</summary>
    private IEnumerable<RecordingSink> LiveSinks() => [.. _active.Values, .. _finishing.Select(f => f.Sink)];

    /// <summary>Folds recordings that have finished into the totals and lets them go; call under the lock.</summary>
    private void PruneFinished()
    {
        for (int i = _finishing.Count - 1; i >= 0; i--)
        {
            (RecordingSink sink, Task finish) = _finishing[i];
            if (!finish.IsCompleted)
            {
                continue;
            }

            _finishing.RemoveAt(i);
            _finishedFrames += sink.FramesRecorded;
            _finishedAudio += sink.AudioPacketsRecorded;
            _finishedBytes += sink.BytesRecorded;
            _finishedFiles.AddRange(((RotatingRecorder)sink.Recorder).Files);
            if (sink.Failure is { } failure)
            {
                _finishedFailures.Add(failure);
            }

            // Finished, so this only releases its cancellation source (synchronously).
            sink.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
