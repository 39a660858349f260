using System.Diagnostics;

namespace SocketCam.Sources;

/// <summary>
/// Paces a source to a frame rate with absolute deadlines: frame n is due at start + n * interval, so there is no drift.
/// A consumer more than one interval late gets a frame now and the schedule restarts from it, skipping the missed
/// slots instead of bursting to catch up. A rate of 0 means unpaced.
/// </summary>
internal sealed class FramePacer
{
    private readonly double _intervalTicks;
    private readonly long _toleranceTicks = Stopwatch.Frequency / 2000; // hand out up to 0.5 ms early rather than sleep again
    private bool _started;
    private long _startTicks;
    private long _slot;

    public FramePacer(double fps)
    {
        _intervalTicks = fps > 0 ? Stopwatch.Frequency / fps : 0;
    }

    /// <summary>True when a frame is due now; otherwise how long to wait before asking again.</summary>
    public bool TryTakeSlot(out TimeSpan wait)
    {
        wait = default;
        if (_intervalTicks <= 0)
        {
            return true;
        }

        long now = Stopwatch.GetTimestamp();
        if (!_started)
        {
            _started = true;
            _startTicks = now;
            _slot = 0;
        }

        long due = _startTicks + (long)(_slot * _intervalTicks);
        long remaining = due - now;
        if (remaining > _toleranceTicks)
        {
            wait = TimeSpan.FromMilliseconds(Math.Ceiling(remaining * 1000.0 / Stopwatch.Frequency));
            return false;
        }

        if (now - due >= _intervalTicks)
        {
            // Re-anchor the schedule at this frame: the next one is a full interval away, not a catch-up burst.
            _startTicks = now;
            _slot = 0;
        }

        _slot++;
        return true;
    }

    /// <summary>Waits until the next frame is due.</summary>
    public async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        while (!TryTakeSlot(out TimeSpan wait))
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
    }
}
