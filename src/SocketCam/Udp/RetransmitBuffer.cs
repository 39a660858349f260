using System.Buffers;

namespace SocketCam.Udp;

/// <summary>
/// The frame sender's memory for NACKs: its last 16 frames (none older than 500 ms), each data fragment resent at most
/// 3 times (docs/PROTOCOL.md §2.0). It owns the frames added to it and disposes them when they leave. Not thread-safe:
/// one sender uses it.
/// </summary>
internal sealed class RetransmitBuffer : IDisposable
{
    public const int DefaultCapacity = 16;

    public const long DefaultMaxAgeMicros = 500_000;

    public const int DefaultMaxResends = 3;

    private readonly List<Entry> _entries;
    private readonly int _capacity;
    private readonly long _maxAgeMicros;
    private readonly int _maxResends;

    public RetransmitBuffer(int capacity = DefaultCapacity, long maxAgeMicros = DefaultMaxAgeMicros, int maxResends = DefaultMaxResends)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxAgeMicros);
        ArgumentOutOfRangeException.ThrowIfNegative(maxResends);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxResends, byte.MaxValue);
        _capacity = capacity;
        _maxAgeMicros = maxAgeMicros;
        _maxResends = maxResends;
        _entries = new List<Entry>(capacity);
    }

    public int Count => _entries.Count;

    /// <summary>Fragments handed out for resending.</summary>
    public long Resent { get; private set; }

    /// <summary>Requests refused: frame no longer (or never) here, not a data index, or resent too often already.</summary>
    public long Refused { get; private set; }

    /// <summary>Takes ownership of a frame that was just sent; evicts the oldest beyond the capacity and any too old.</summary>
    public void Add(FragmentedFrame frame, long nowMicros)
    {
        ArgumentNullException.ThrowIfNull(frame);
        EvictExpired(nowMicros);
        if (_entries.Count == _capacity)
        {
            Remove(0);
        }

        byte[] resends = ArrayPool<byte>.Shared.Rent(frame.DataCount);
        Array.Clear(resends, 0, frame.DataCount);
        _entries.Add(new Entry(frame, nowMicros, resends));
    }

    /// <summary>Disposes the frames older than the maximum age; returns how many left.</summary>
    public int EvictExpired(long nowMicros)
    {
        int removed = 0;
        while (_entries.Count > 0 && nowMicros - _entries[0].AddedMicros > _maxAgeMicros)
        {
            Remove(0);
            removed++;
        }

        return removed;
    }

    /// <summary>
    /// The datagram of data fragment <paramref name="index"/> of frame <paramref name="frameId"/>, if the frame is
    /// still here and that fragment was resent fewer than 3 times; counts the resend. Valid until the next
    /// <see cref="Add"/> or <see cref="EvictExpired"/>.
    /// </summary>
    public bool TryGetForResend(uint frameId, ushort index, out ReadOnlyMemory<byte> datagram)
    {
        datagram = default;
        foreach (Entry entry in _entries)
        {
            if (entry.Frame.FrameId != frameId)
            {
                continue;
            }

            if (index >= entry.Frame.DataCount || entry.Resends[index] >= _maxResends)
            {
                break;
            }

            entry.Resends[index]++;
            Resent++;
            datagram = entry.Frame.DataFragment(index);
            return true;
        }

        Refused++;
        return false;
    }

    public void Dispose()
    {
        while (_entries.Count > 0)
        {
            Remove(_entries.Count - 1);
        }
    }

    private void Remove(int i)
    {
        Entry entry = _entries[i];
        _entries.RemoveAt(i);
        entry.Frame.Dispose();
        ArrayPool<byte>.Shared.Return(entry.Resends);
    }

    private sealed record Entry(FragmentedFrame Frame, long AddedMicros, byte[] Resends);
}
