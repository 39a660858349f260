using System.Diagnostics;

namespace SocketCam.Diagnostics;

/// <summary>
/// Wall-clock microseconds since the Unix epoch, derived from a monotonic counter so that timestamps never jump backwards
/// within a process (latency is computed across processes with the clock offset measured by ping/pong).
/// </summary>
public static class Clock
{
    private static readonly long StartUnixMicros = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
    private static readonly long StartTicks = Stopwatch.GetTimestamp();

    /// <summary>Now, in microseconds since the Unix epoch: the clock of every frame's capture time and every latency figure.</summary>
    public static long NowMicros()
    {
        long elapsed = Stopwatch.GetTimestamp() - StartTicks;
        return StartUnixMicros + (long)(elapsed * (1_000_000.0 / Stopwatch.Frequency));
    }
}
