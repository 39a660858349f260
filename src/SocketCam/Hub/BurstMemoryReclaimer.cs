using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SocketCam.Limits;

namespace SocketCam.Hub;

/// <summary>
/// Gives memory back after a burst of frames in flight drains. The pipes' 128 KiB segments that held the burst are
/// large-object garbage once their connections end, and a workstation GC with little allocation going on may not run a
/// gen-2 collection for many minutes, so the process would keep the peak (measured: 1.6 GB for minutes after 100 slow
/// publishers left). When the budget in use falls back below an eighth of <see cref="BurstBytes"/> after having reached it,
/// one aggressive (decommitting), compacting gen-2 collection runs after <see cref="Settle"/>; at most one per
/// <see cref="MinInterval"/>. Thread-safe; the one scheduled collection is awaited on shutdown.
/// </summary>
internal sealed class BurstMemoryReclaimer(ByteBudget budget, ILogger logger, CancellationToken shutdown)
{
    /// <summary>In use at once that makes a burst: above what a few legitimate large frames hold.</summary>
    public long BurstBytes { get; init; } = 32L << 20;

    /// <summary>How long the budget must stay low before collecting (the rest of a crowd is still leaving).</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Collections are at least this far apart, however often bursts come.</summary>
    public TimeSpan MinInterval { get; init; } = TimeSpan.FromSeconds(10);

    private long _highWater;
    private long _lastCollected;
    private int _scheduled;
    private Task _pending = Task.CompletedTask;

    /// <summary>Collections run so far.</summary>
    public int Collections => Volatile.Read(ref _collections);

    private int _collections;

    /// <summary>Call after reserving from the budget.</summary>
    public void OnReserved()
    {
        long inUse = budget.InUse;
        long seen = Volatile.Read(ref _highWater);
        while (inUse > seen)
        {
            long previous = Interlocked.CompareExchange(ref _highWater, inUse, seen);
            if (previous == seen)
            {
                break;
            }

            seen = previous;
        }
    }

    /// <summary>Call after releasing to the budget.</summary>
    public void OnReleased()
    {
        if (Volatile.Read(ref _highWater) < BurstBytes || budget.InUse > BurstBytes / 8 || shutdown.IsCancellationRequested)
        {
            return;
        }

        if (Interlocked.CompareExchange(ref _scheduled, 1, 0) == 0)
        {
            _pending = CollectSoonAsync();
        }
    }

    /// <summary>Waits for a scheduled collection (shutdown cancels its wait).</summary>
    public Task WhenIdleAsync() => _pending;

    private async Task CollectSoonAsync()
    {
        try
        {
            TimeSpan delay = Settle;
            long last = Volatile.Read(ref _lastCollected);
            if (last != 0)
            {
                TimeSpan sinceLast = Stopwatch.GetElapsedTime(last);
                if (MinInterval - sinceLast > delay)
                {
                    delay = MinInterval - sinceLast;
                }
            }

            await Task.Delay(delay, shutdown).ConfigureAwait(false);
            if (budget.InUse > BurstBytes / 8)
            {
                return; // a new burst: the release that ends it schedules again
            }

            long peak = Interlocked.Exchange(ref _highWater, budget.InUse);
            long before = GC.GetTotalMemory(forceFullCollection: false);
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            long after = GC.GetTotalMemory(forceFullCollection: false);
            Volatile.Write(ref _lastCollected, Stopwatch.GetTimestamp());
            Interlocked.Increment(ref _collections);
            HubLog.Reclaimed(logger, peak >> 20, before >> 20, after >> 20, Environment.WorkingSet >> 20);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the process gives everything back anyway.
        }
        finally
        {
            Volatile.Write(ref _scheduled, 0);
        }
    }
}
