using SocketCam.Media;

namespace SocketCam.Rooms;

/// <summary>
/// The audio delivery policy of one (subscriber, track): a short FIFO (10 packets, 200 ms of 20 ms Opus). Audio is not
/// newest-wins (every packet is a slice of sound), but latency stays bounded: when full, the oldest packet is dropped.
/// </summary>
internal sealed class AudioFifo
{
    public const int Capacity = 10;

    private readonly Action _wake;
    private readonly MediaFrame?[] _ring = new MediaFrame?[Capacity];
    private readonly long[] _since = new long[Capacity];
    private readonly Lock _lock = new();
    private int _head;
    private int _count;
    private long _dropped;
    private bool _closed;

    public AudioFifo(Action wake)
    {
        _wake = wake;
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>When the oldest packet was offered (Stopwatch ticks), or 0 when empty.</summary>
    public long WaitingSince
    {
        get
        {
            lock (_lock)
            {
                return _count == 0 ? 0 : _since[_head];
            }
        }
    }

    public bool Offer(MediaFrame frame)
    {
        MediaFrame? dropped = null;
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }

            if (_count == Capacity)
            {
                dropped = _ring[_head];
                _ring[_head] = null;
                _head = (_head + 1) % Capacity;
                _count--;
                _dropped++;
            }

            frame.AddRef();
            int tail = (_head + _count) % Capacity;
            _ring[tail] = frame;
            _since[tail] = System.Diagnostics.Stopwatch.GetTimestamp();
            _count++;
        }

        dropped?.Release();
        _wake();
        return true;
    }

    public MediaFrame? Take()
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                return null;
            }

            MediaFrame? frame = _ring[_head];
            _ring[_head] = null;
            _head = (_head + 1) % Capacity;
            _count--;
            return frame;
        }
    }

    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
        }

        while (Take() is { } frame)
        {
            frame.Release();
        }
    }
}
