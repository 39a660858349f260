using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Hub;
using SocketCam.Rooms;

namespace SocketCam.Recording;

/// <summary>
/// A bounded queue of frames between a producer (a room's publisher, or a viewer's receive loop) and a recorder.
/// It never drops a frame: when it is full (by frames or by bytes) the producer waits, which slows the source down.
/// The first wait of an episode logs a warning; when the recorder has emptied the queue again, the episode ends with a
/// note of how long the input was held back. One producer and one consumer at a time.
/// </summary>
internal sealed class RecordingQueue
{
    private readonly Lock _lock = new();
    private readonly Queue<MediaFrame> _frames = new();
    private readonly AsyncSignal _spaceFreed = new();
    private readonly AsyncSignal _frameAdded = new();
    private readonly int _maxFrames;
    private readonly long _maxBytes;
    private readonly string _name;
    private readonly ILogger _logger;
    private long _bytes;
    private bool _completed;
    private bool _failed;
    private bool _stalling;
    private long _episodeStalledTicks;
    private long _episodeStalledFrames;
    private long _stalledTicks;
    private long _stalledFrames;
    private long _episodes;
    private long _enqueued;

    public RecordingQueue(string name, int maxFrames, long maxBytes, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        _name = name;
        _maxFrames = maxFrames;
        _maxBytes = maxBytes;
        _logger = logger;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _frames.Count;
            }
        }
    }

    /// <summary>Frames accepted since the start.</summary>
    public long Enqueued => Interlocked.Read(ref _enqueued);

    /// <summary>Times the producer had to wait, each time from the first wait until the queue was empty again.</summary>
    public long StallEpisodes => Interlocked.Read(ref _episodes);

    /// <summary>Frames the producer had to wait for room for.</summary>
    public long StalledFrames => Interlocked.Read(ref _stalledFrames);

    /// <summary>Total time the producer spent waiting for room.</summary>
    public TimeSpan Stalled => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _stalledTicks));

    /// <summary>
    /// Takes a reference to <paramref name="frame"/> and queues it, waiting while the queue is full. Returns false (and
    /// takes nothing) once the queue was completed or failed. If <paramref name="cancellationToken"/> fires during the
    /// wait the frame is still queued, over the bound, before the cancellation is thrown: a frame that reached the
    /// recorder is never lost.
    /// </summary>
    public ValueTask<bool> EnqueueAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_completed || _failed)
            {
                return ValueTask.FromResult(false);
            }

            if (HasRoomFor(frame))
            {
                Add(frame);
                return ValueTask.FromResult(true);
            }
        }

        return EnqueueSlowAsync(frame, cancellationToken);
    }

    /// <summary>The next frame (the caller owns its reference), or null once the queue is completed and empty, or failed.</summary>
    public async ValueTask<MediaFrame?> DequeueAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            MediaFrame? frame = null;
            long caughtUpTicks = 0;
            long caughtUpFrames = 0;
            lock (_lock)
            {
                if (_failed)
                {
                    return null;
                }

                if (_frames.TryDequeue(out frame))
                {
                    _bytes -= frame.DataLength;
                    if (_frames.Count == 0 && _stalling)
                    {
                        _stalling = false;
                        caughtUpTicks = _episodeStalledTicks;
                        caughtUpFrames = _episodeStalledFrames;
                    }
                }
                else if (_completed)
                {
                    return null;
                }
            }

            if (frame is not null)
            {
                _spaceFreed.Set();
                if (caughtUpFrames > 0)
                {
                    RecordingLog.CaughtUp(_logger, _name, (long)Stopwatch.GetElapsedTime(0, caughtUpTicks).TotalMilliseconds, caughtUpFrames);
                }

                return frame;
            }

            await _frameAdded.WaitAsync(cancellationToken);
        }
    }

    /// <summary>No more frames will come: the consumer drains what is queued, then gets null.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            _completed = true;
        }

        _frameAdded.Set();
        _spaceFreed.Set();
    }

    /// <summary>The recorder is gone: drops what is queued, refuses new frames and frees a waiting producer.</summary>
    public void Fail()
    {
        List<MediaFrame> dropped;
        lock (_lock)
        {
            _failed = true;
            dropped = [.. _frames];
            _frames.Clear();
            _bytes = 0;
        }

        foreach (MediaFrame frame in dropped)
        {
            frame.Release();
        }

        _frameAdded.Set();
        _spaceFreed.Set();
    }

    private bool HasRoomFor(MediaFrame frame) =>
        _frames.Count == 0 || (_frames.Count < _maxFrames && _bytes + frame.DataLength <= _maxBytes);

    /// <summary>Queues a new reference to the frame; call under the lock.</summary>
    private void Add(MediaFrame frame)
    {
        frame.AddRef();
        _frames.Enqueue(frame);
        _bytes += frame.DataLength;
        _enqueued++;
        _frameAdded.Set();
    }

    private async ValueTask<bool> EnqueueSlowAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        bool firstOfEpisode;
        int queuedFrames;
        long queuedBytes;
        lock (_lock)
        {
            firstOfEpisode = !_stalling;
            if (firstOfEpisode)
            {
                _stalling = true;
                _episodes++;
                _episodeStalledTicks = 0;
                _episodeStalledFrames = 0;
            }

            _episodeStalledFrames++;
            _stalledFrames++;
            queuedFrames = _frames.Count;
            queuedBytes = _bytes;
        }

        if (firstOfEpisode)
        {
            RecordingLog.CannotKeepUp(_logger, _name, queuedFrames, queuedBytes);
        }

        try
        {
            while (true)
            {
                try
                {
                    await _spaceFreed.WaitAsync(cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    lock (_lock)
                    {
                        if (!_completed && !_failed)
                        {
                            Add(frame);
                        }
                    }

                    throw;
                }

                lock (_lock)
                {
                    if (_completed || _failed)
                    {
                        return false;
                    }

                    if (HasRoomFor(frame))
                    {
                        Add(frame);
                        return true;
                    }
                }
            }
        }
        finally
        {
            long waited = Stopwatch.GetTimestamp() - started;
            lock (_lock)
            {
                _stalledTicks += waited;
                _episodeStalledTicks += waited;
            }
        }
    }
}
