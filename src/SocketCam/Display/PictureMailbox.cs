using SocketCam.Media;

namespace SocketCam.Display;

/// <summary>
/// A one-slot mailbox of decoded pictures between a receive loop and a window (triple buffering): the producer copies
/// each picture into its own back buffer and swaps it into the slot, the window swaps the slot with the picture it
/// showed last. Newest wins: a picture still in the slot when the next arrives is replaced and counted. The lock is held
/// only to swap two references, so the producer never waits for drawing.
/// </summary>
internal sealed class PictureMailbox : IDisplayFeed, IDisposable
{
    private readonly Lock _lock = new();
    private VideoFrame? _back;    // the producer's
    private VideoFrame? _pending; // shared, under _lock
    private VideoFrame? _front;   // the window's
    private bool _pendingFresh;   // _pending holds a picture the window has not taken
    private long _replaced;
    private volatile string? _signalReason;
    private volatile Action? _wake;
    private bool _disposed;

    public long Replaced => Interlocked.Read(ref _replaced);

    public string? SignalReason => _signalReason;

    public void SetWake(Action wake) => _wake = wake;

    /// <summary>
    /// Producer only (one thread at a time): copies <paramref name="picture"/> (BGR24) into the slot, replacing a picture
    /// the window has not taken yet. <paramref name="localCaptureMicros"/> is the capture time on this process's clock.
    /// </summary>
    public void Publish(VideoFrame picture, long localCaptureMicros)
    {
        ArgumentNullException.ThrowIfNull(picture);
        picture.RequireBgr24("The window");
        VideoFrame back = _back is { } b && b.Width == picture.Width && b.Height == picture.Height
            ? b
            : Replace(ref _back, picture.Width, picture.Height);
        for (int y = 0; y < picture.Height; y++)
        {
            picture.Row(y).CopyTo(back.Buffer.AsSpan(back.Offset + (y * back.Stride)));
        }

        back.Sequence = picture.Sequence;
        back.CaptureMicros = localCaptureMicros;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_pendingFresh)
            {
                _replaced++;
            }

            (_back, _pending) = (_pending, back);
            _pendingFresh = true;
        }

        _wake?.Invoke();
    }

    /// <summary>Records the stream's signal state (null: live) and wakes the window so it can say so.</summary>
    public void SetSignal(string? reason)
    {
        _signalReason = reason;
        _wake?.Invoke();
    }

    public VideoFrame? TakeNewest()
    {
        lock (_lock)
        {
            if (!_pendingFresh)
            {
                return null;
            }

            (_front, _pending) = (_pending, _front);
            _pendingFresh = false;
            return _front;
        }
    }

    public bool Skip()
    {
        lock (_lock)
        {
            bool fresh = _pendingFresh;
            _pendingFresh = false;
            return fresh;
        }
    }

    /// <summary>Returns the buffers to the pool; only once the producer and the window have both stopped.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _pendingFresh = false;
        }

        _back?.Dispose();
        _pending?.Dispose();
        _front?.Dispose();
        _back = _pending = _front = null;
    }

    private static VideoFrame Replace(ref VideoFrame? frame, int width, int height)
    {
        // The size changed (or first picture): the old buffer, if any, is the producer's alone, so it can go back now.
        frame?.Dispose();
        frame = VideoFrame.Rent(width, height);
        return frame;
    }
}
