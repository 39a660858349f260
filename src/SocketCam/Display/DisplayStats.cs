using System.Diagnostics;
using SocketCam.Diagnostics;

namespace SocketCam.Display;

/// <summary>What a window measured; safe to read from any thread while it runs.</summary>
internal sealed class DisplayStats
{
    private readonly LatencyRecorder _latency = new();
    private readonly Func<long> _replaced;
    private long _shown;
    private long _notShown;
    private long _firstShownTicks;
    private long _lastShownTicks;

    /// <param name="replaced">Pictures the feed replaced before the window took them (counted as dropped).</param>
    public DisplayStats(Func<long> replaced)
    {
        _replaced = replaced;
    }

    /// <summary>Pictures drawn and presented.</summary>
    public long FramesShown => Interlocked.Read(ref _shown);

    /// <summary>
    /// Pictures that reached the window's feed but were never shown: replaced by a newer one before the window took it,
    /// or taken while the window was minimized or hidden.
    /// </summary>
    public long Dropped => _replaced() + Interlocked.Read(ref _notShown);

    /// <summary>Average pictures shown per second, from the first one shown to the last.</summary>
    public double Fps
    {
        get
        {
            long shown = FramesShown;
            long first = Interlocked.Read(ref _firstShownTicks);
            long last = Interlocked.Read(ref _lastShownTicks);
            return shown < 2 || last <= first ? 0 : (shown - 1) / Stopwatch.GetElapsedTime(first, last).TotalSeconds;
        }
    }

    /// <summary>Presented time minus capture time, on the capturing hub's clock (corrected by the measured clock offset).</summary>
    public LatencySummary Latency => _latency.Summarize();

    /// <summary>The renderer SDL chose (e.g. "opengl", "software"); null until the window is open.</summary>
    public string? Renderer { get; internal set; }

    internal void OnShown(double latencyMs)
    {
        long now = Stopwatch.GetTimestamp();
        if (Interlocked.Increment(ref _shown) == 1)
        {
            Interlocked.Exchange(ref _firstShownTicks, now);
        }

        Interlocked.Exchange(ref _lastShownTicks, now);
        _latency.Record(latencyMs);
    }

    internal void OnNotShown() => Interlocked.Increment(ref _notShown);
}
