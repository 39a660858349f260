using System.Diagnostics;
using System.Globalization;

namespace SocketCam.Limits;

/// <summary>
/// The minimum data rate of one message in progress (<see cref="LimitOptions.MinFrameDataRate"/> measured over each
/// <see cref="LimitOptions.MinDataRateGrace"/> window, like Kestrel's MinRequestBodyDataRate), for TCP/Unix and WebSocket
/// publishers alike: trickled bytes must not hold a frame's budget for ever, and one byte must not count as activity.
/// Times are <see cref="Stopwatch"/> timestamps. Not thread-safe: one per receive loop.
/// </summary>
public sealed class MinimumDataRate(LimitOptions options)
{
    private long _windowStart;
    private long _windowStartBytes;

    /// <summary>Bytes per second a message in progress must keep up; 0 = no minimum.</summary>
    public double Rate { get; } = options.MinFrameDataRate;

    /// <summary>The window it is measured over (default 5 s).</summary>
    public TimeSpan Window { get; } = options.MinDataRateGrace > TimeSpan.Zero ? options.MinDataRateGrace : TimeSpan.FromSeconds(5);

    /// <summary>True from <see cref="Restart"/> until <see cref="End"/>.</summary>
    public bool InProgress { get; private set; }

    /// <summary>A message began with <paramref name="bytes"/> in, or the hub made the peer wait: a new window from now.</summary>
    public void Restart(long timestamp, long bytes)
    {
        InProgress = true;
        _windowStart = timestamp;
        _windowStartBytes = bytes;
    }

    /// <summary>The message is complete or abandoned.</summary>
    public void End() => InProgress = false;

    /// <summary>What is left of the current window (negative once it has passed).</summary>
    public TimeSpan Left(long timestamp) => Window - Stopwatch.GetElapsedTime(_windowStart, timestamp);

    /// <summary>
    /// With <paramref name="bytes"/> of the message in by now: false while the window runs; true once it has passed, with
    /// <paramref name="tooSlow"/> the refusal's text when the window brought less than <see cref="Rate"/> (else null, and
    /// the next window starts).
    /// </summary>
    public bool WindowEnded(long timestamp, long bytes, out string? tooSlow)
    {
        tooSlow = null;
        TimeSpan elapsed = Stopwatch.GetElapsedTime(_windowStart, timestamp);
        if (elapsed < Window)
        {
            return false;
        }

        double rate = (bytes - _windowStartBytes) / elapsed.TotalSeconds;
        if (Rate > 0 && rate < Rate)
        {
            tooSlow = string.Create(CultureInfo.InvariantCulture, $"sending too slowly: {rate:0} B/s, at least {Rate:0} B/s");
            return true;
        }

        Restart(timestamp, bytes);
        return true;
    }
}
