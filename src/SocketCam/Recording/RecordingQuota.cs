using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SocketCam.Limits;

namespace SocketCam.Recording;

/// <summary>
/// Keeps `serve --record DIR` from filling the disk: the directory's total size (its files from earlier runs included)
/// stays under <see cref="RecordingOptions.MaxDirectoryBytes"/>, and the disk keeps <see cref="RecordingOptions.MinFreeBytes"/>
/// free. Over either, recording stops (each room's file is finished, so it plays) with one log line, frames are not
/// recorded and counted, and it resumes by itself into new files once there is room again (files deleted, space freed),
/// checked every few seconds. Shared by every room of the directory; thread-safe. The total may pass the cap by at most one
/// frame per room (rooms reserve concurrently), and .mkv/.mp4 count their JPEG input, which is more than ffmpeg writes.
/// </summary>
internal sealed class RecordingQuota
{
    private static readonly TimeSpan RecheckStopped = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FreeSpaceInterval = TimeSpan.FromSeconds(1);
    private const long FreeSpaceEveryBytes = 8L << 20;

    private readonly string _directory;
    private readonly long _maxTotal;
    private readonly long _minFree;
    private readonly ILogger _logger;
    private readonly RefusalCounters? _refusals;
    private readonly Func<string, long> _freeSpace;
    private readonly Lock _lock = new();
    private long _used;
    private long _sinceFreeCheck;
    private long _lastFreeCheck;
    private long _lastFree = long.MaxValue;
    private string? _stoppedReason;
    private long _stoppedAt;
    private long _framesNotRecorded;

    public RecordingQuota(string directory, RecordingOptions options, ILogger logger, RefusalCounters? refusals = null, Func<string, long>? freeSpace = null)
    {
        _directory = directory;
        _maxTotal = options.MaxDirectoryBytes;
        _minFree = options.MinFreeBytes;
        _logger = logger;
        _refusals = refusals;
        _freeSpace = freeSpace ?? AvailableBytes;
        _used = DirectorySize(directory);
    }

    /// <summary>Bytes in the directory: its files when recording started plus every frame admitted since.</summary>
    public long UsedBytes => Interlocked.Read(ref _used);

    /// <summary>Frames not recorded because a limit was reached.</summary>
    public long FramesNotRecorded => Interlocked.Read(ref _framesNotRecorded);

    /// <summary>Why recording is stopped now, or null while it runs.</summary>
    public string? StoppedReason
    {
        get
        {
            lock (_lock)
            {
                return _stoppedReason;
            }
        }
    }

    /// <summary>Whether a frame of <paramref name="bytes"/> may be written; false means recording is stopped (finish the open file).</summary>
    public bool TryAdmit(long bytes)
    {
        long now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            if (_stoppedReason is not null)
            {
                if (Stopwatch.GetElapsedTime(_stoppedAt, now) < RecheckStopped)
                {
                    _framesNotRecorded++;
                    return false;
                }

                // Time to look again: files may have been deleted or space freed meanwhile.
                _used = DirectorySize(_directory);
                _lastFreeCheck = 0;
            }

            string? reason = Check(bytes, now);
            if (reason is not null)
            {
                if (_stoppedReason is null)
                {
                    RecordingLog.QuotaStopped(_logger, _directory, reason);
                    _refusals?.Count(Refusal.RecordingLimit);
                }

                _stoppedReason = reason;
                _stoppedAt = now;
                _framesNotRecorded++;
                return false;
            }

            if (_stoppedReason is not null)
            {
                RecordingLog.QuotaResumed(_logger, _directory, _framesNotRecorded);
                _stoppedReason = null;
            }

            _used += bytes;
            _sinceFreeCheck += bytes;
            return true;
        }
    }

    /// <summary>Under the lock: why <paramref name="bytes"/> more cannot be written, or null.</summary>
    private string? Check(long bytes, long now)
    {
        if (_maxTotal > 0 && _used + bytes > _maxTotal)
        {
            return $"the directory holds {Format(_used)}, the --record-max-total limit is {Format(_maxTotal)}";
        }

        if (_minFree > 0)
        {
            if (_lastFreeCheck == 0 || _sinceFreeCheck >= FreeSpaceEveryBytes || Stopwatch.GetElapsedTime(_lastFreeCheck, now) >= FreeSpaceInterval)
            {
                _lastFree = _freeSpace(_directory);
                _lastFreeCheck = now;
                _sinceFreeCheck = 0;
            }

            if (_lastFree - _sinceFreeCheck - bytes < _minFree)
            {
                return $"only {Format(Math.Max(0, _lastFree - _sinceFreeCheck))} free on the disk, below the --record-min-free margin of {Format(_minFree)}";
            }
        }

        return null;
    }

    private static long AvailableBytes(string directory)
    {
        try
        {
            // On Linux DriveInfo takes any path and asks statvfs about the file system it is on.
            return new DriveInfo(directory).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return long.MaxValue; // unknown: the size cap and the writes' own errors still apply
        }
    }

    private static long DirectorySize(string directory)
    {
        long total = 0;
        try
        {
            foreach (FileInfo file in new DirectoryInfo(directory).EnumerateFiles())
            {
                try
                {
                    total += file.Length;
                }
                catch (IOException)
                {
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return total;
    }

    private static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.0} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        _ => $"{bytes / 1024.0:0} KiB",
    };
}
