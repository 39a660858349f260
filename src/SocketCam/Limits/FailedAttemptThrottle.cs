using System.Diagnostics;

namespace SocketCam.Limits;

/// <summary>
/// Slows down guessing (tokens, handshakes): an address that failed <see cref="FreeFailures"/> times in a row is refused
/// for a while before its attempt is even looked at, 1 s after the next failure, doubling to at most 60 s. A success
/// forgets the address. Memory is bounded: at most <see cref="MaxTracked"/> addresses, the stalest forgotten first.
/// </summary>
public sealed class FailedAttemptThrottle(int freeFailures = 5, int maxTracked = 65536)
{
    private static readonly TimeSpan FirstBlock = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBlock = TimeSpan.FromSeconds(60);

    /// <summary>A failure streak older than this starts over.</summary>
    private static readonly TimeSpan Forget = TimeSpan.FromMinutes(10);

    private readonly Dictionary<AddressKey, Entry> _entries = [];
    private readonly Lock _lock = new();

    public int FreeFailures { get; } = freeFailures;

    public int MaxTracked { get; } = maxTracked;

    /// <summary>True (with how long to wait) while <paramref name="key"/> must not try again.</summary>
    public bool IsBlocked(AddressKey? key, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (key is not { } k)
        {
            return false;
        }

        long now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            if (!_entries.TryGetValue(k, out Entry entry) || entry.BlockedUntil <= now)
            {
                return false;
            }

            retryAfter = Stopwatch.GetElapsedTime(now, entry.BlockedUntil);
            return true;
        }
    }

    /// <summary>Counts a failed attempt; returns how long the address is now blocked (zero while it has free failures left).</summary>
    public TimeSpan RecordFailure(AddressKey? key)
    {
        if (key is not { } k)
        {
            return TimeSpan.Zero;
        }

        long now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            if (!_entries.TryGetValue(k, out Entry entry) || Stopwatch.GetElapsedTime(entry.LastFailure, now) > Forget)
            {
                if (_entries.Count >= MaxTracked)
                {
                    EvictStalest();
                }

                entry = default;
            }

            entry.Failures++;
            entry.LastFailure = now;
            TimeSpan block = TimeSpan.Zero;
            if (entry.Failures > FreeFailures)
            {
                int doublings = Math.Min(entry.Failures - FreeFailures - 1, 6);
                block = TimeSpan.FromTicks(Math.Min(FirstBlock.Ticks << doublings, MaxBlock.Ticks));
                entry.BlockedUntil = now + (long)(block.TotalSeconds * Stopwatch.Frequency);
            }

            _entries[k] = entry;
            return block;
        }
    }

    public void RecordSuccess(AddressKey? key)
    {
        if (key is { } k)
        {
            lock (_lock)
            {
                _entries.Remove(k);
            }
        }
    }

    private void EvictStalest()
    {
        AddressKey stalest = default;
        long oldest = long.MaxValue;
        foreach ((AddressKey key, Entry entry) in _entries)
        {
            if (entry.LastFailure < oldest)
            {
                oldest = entry.LastFailure;
                stalest = key;
            }
        }

        _entries.Remove(stalest);
    }

    private struct Entry
    {
        public int Failures;
        public long LastFailure;
        public long BlockedUntil;
    }
}
