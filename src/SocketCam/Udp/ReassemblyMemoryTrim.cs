using System.Runtime;
using System.Runtime.InteropServices;

namespace SocketCam.Udp;

/// <summary>
/// Gives the memory of a reassembly flood back to the system once it is over. A flood makes the hub allocate (chunks
/// beyond the free list, bookkeeping, NACKs) and the GC grows its heap to match; a viewer-only hub then allocates almost
/// nothing, so no collection comes to shrink it again and the process keeps that size. So when reassembly was busy,
/// the process allocated a lot meanwhile, and reassembly has held next to nothing for a few seconds, one compacting
/// full collection returns the memory: at most once a minute, and never while frames are being reassembled. On glibc
/// it also asks malloc to give back what the runtime's native side (JIT, thread arenas) freed meanwhile.
/// </summary>
internal sealed partial class ReassemblyMemoryTrim
{
    /// <summary>Bytes allocated by the process since the last trim that make one worth it.</summary>
    private const long Threshold = 64L << 20;

    /// <summary>Reassembly counts as busy at or above this, as quiet below it ...</summary>
    private const long Busy = 1L << 20;

    /// <summary>... and must have been quiet for this long.</summary>
    private const long QuietMicros = 3_000_000;

    private const long MinIntervalMicros = 60_000_000;

    private long _allocatedAtLastTrim = GC.GetTotalAllocatedBytes();
    private bool _busySinceTrim;
    private long _quietSinceMicros = long.MinValue;
    private long _lastTrimMicros = long.MinValue / 2;

    /// <summary>From the listener's housekeeping; true when it collected.</summary>
    public bool Tick(long nowMicros, long reassemblyInUse)
    {
        if (reassemblyInUse >= Busy)
        {
            _busySinceTrim = true;
            _quietSinceMicros = long.MinValue;
            return false;
        }

        if (_quietSinceMicros == long.MinValue)
        {
            _quietSinceMicros = nowMicros;
        }

        if (!_busySinceTrim || nowMicros - _quietSinceMicros < QuietMicros || nowMicros - _lastTrimMicros < MinIntervalMicros)
        {
            return false;
        }

        long allocated = GC.GetTotalAllocatedBytes();
        if (allocated - _allocatedAtLastTrim < Threshold)
        {
            return false;
        }

        _allocatedAtLastTrim = allocated;
        _lastTrimMicros = nowMicros;
        _busySinceTrim = false;
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        TrimNativeHeap();
        return true;
    }

    private static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            _ = MallocTrim(0);
        }
        catch (EntryPointNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): the managed side was given back all the same.
        }
        catch (DllNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
