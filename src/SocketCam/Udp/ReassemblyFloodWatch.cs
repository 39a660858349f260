namespace SocketCam.Udp;

/// <summary>
/// Tells when a reassembly flood is over, so its memory can be given back (<see cref="Limits.MemoryReclaimer"/>). A flood of
/// first fragments holds little reassembly budget at once (a chunk each) but makes the hub allocate a lot meanwhile
/// (chunks beyond the free list, bookkeeping, NACKs), and the GC grows its heap to match; so the budget's own burst
/// signal does not see it. Over: reassembly was busy, the process allocated at least 64 MB since, and reassembly has
/// held next to nothing for 3 s. Ticked by the listener's housekeeping; not thread-safe.
/// </summary>
internal sealed class ReassemblyFloodWatch
{
    /// <summary>Bytes allocated by the process since the last flood that make one worth collecting after.</summary>
    private const long Threshold = 64L << 20;

    /// <summary>Reassembly counts as busy at or above this, as quiet below it ...</summary>
    private const long Busy = 1L << 20;

    /// <summary>... and must have been quiet for this long.</summary>
    private const long QuietMicros = 3_000_000;

    private long _allocatedAtLastFlood = GC.GetTotalAllocatedBytes();
    private bool _busy;
    private long _quietSinceMicros = long.MinValue;

    /// <summary>True once, when a flood has just ended.</summary>
    public bool Tick(long nowMicros, long reassemblyInUse)
    {
        if (reassemblyInUse >= Busy)
        {
            _busy = true;
            _quietSinceMicros = long.MinValue;
            return false;
        }

        if (_quietSinceMicros == long.MinValue)
        {
            _quietSinceMicros = nowMicros;
        }

        if (!_busy || nowMicros - _quietSinceMicros < QuietMicros)
        {
            return false;
        }

        long allocated = GC.GetTotalAllocatedBytes();
        _busy = false;
        if (allocated - _allocatedAtLastFlood < Threshold)
        {
            return false;
        }

        _allocatedAtLastFlood = allocated;
        return true;
    }
}
