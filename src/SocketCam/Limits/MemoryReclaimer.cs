using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SocketCam.Limits;

/// <summary>
/// Gives memory back to the system after an attack or a crowd is over, for every transport. The garbage collector runs
/// only when something allocates, and an idle hub allocates almost nothing, so without this the process would keep the
/// peak of a burst (measured: 1.6 GB for minutes after 100 slow publishers left). Whoever sees a burst end (a
/// <see cref="ByteBudget"/> drained, a wave of HTTP connections gone) calls <see cref="RequestCollection"/>: after
/// <see cref="Settle"/> one aggressive (decommitting), compacting full collection runs, and on glibc malloc_trim returns
/// what the runtime's native side freed. Requests coalesce; collections are at least <see cref="MinInterval"/> apart.
/// Thread-safe; the one scheduled collection is awaited on dispose.
/// </summary>
public sealed partial class MemoryReclaimer(ILogger? logger = null) : IAsyncDisposable
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private Task _pending = Task.CompletedTask;
    private bool _scheduled;
    private long _lastCollected;
    private int _collections;

    /// <summary>How long after a request to collect (the rest of a crowd is still leaving); default 1 s.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Collections are at least this far apart, however often bursts end; default 10 s.</summary>
    public TimeSpan MinInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Collections run so far.</summary>
    public int Collections => Volatile.Read(ref _collections);

    /// <summary>Asks for one collection soon, because <paramref name="cause"/> is over (logged with it).</summary>
    public void RequestCollection(string cause)
    {
        lock (_lock)
        {
            if (_scheduled || _stop.IsCancellationRequested)
            {
                return;
            }

            _scheduled = true;
            _pending = CollectSoonAsync(cause);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task pending;
        lock (_lock)
        {
            _stop.Cancel();
            pending = _pending;
        }

        await pending.ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task CollectSoonAsync(string cause)
    {
        try
        {
            TimeSpan delay = Settle;
            long last = Volatile.Read(ref _lastCollected);
            if (last != 0 && MinInterval - Stopwatch.GetElapsedTime(last) > delay)
            {
                delay = MinInterval - Stopwatch.GetElapsedTime(last);
            }

            await Task.Delay(delay, _stop.Token).ConfigureAwait(false);
            long before = GC.GetTotalMemory(forceFullCollection: false);
            long rssBefore = Environment.WorkingSet;
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            TrimNativeHeap();
            Volatile.Write(ref _lastCollected, Stopwatch.GetTimestamp());
            Interlocked.Increment(ref _collections);
            Collected(_logger, cause, before >> 20, GC.GetTotalMemory(forceFullCollection: false) >> 20, rssBefore >> 20, Environment.WorkingSet >> 20);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the process gives everything back anyway.
        }
        finally
        {
            lock (_lock)
            {
                _scheduled = false;
            }
        }
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
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): the managed side was given back all the same.
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    [LoggerMessage(EventId = 16, Level = LogLevel.Information, Message = "{Cause} is over: memory given back, managed heap {BeforeMiB} -> {AfterMiB} MiB, process {RssBeforeMiB} -> {RssAfterMiB} MiB")]
    private static partial void Collected(ILogger logger, string cause, long beforeMiB, long afterMiB, long rssBeforeMiB, long rssAfterMiB);
}
