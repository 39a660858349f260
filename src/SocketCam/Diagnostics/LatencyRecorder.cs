namespace SocketCam.Diagnostics;

/// <summary>
/// Keeps the most recent latency samples (a fixed ring, no growth) and answers percentiles over them.
/// Recording is allocation-free; percentiles sort a copy and are meant for summaries, not per frame.
/// </summary>
internal sealed class LatencyRecorder
{
    private readonly double[] _samples;
    private readonly Lock _lock = new();
    private long _count;
    private double _max;

    public LatencyRecorder(int capacity = 1 << 16)
    {
        _samples = new double[capacity];
    }

    public long Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Forgets every sample (a benchmark starts measuring after its warm-up).</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _count = 0;
            _max = 0;
        }
    }

    public void Record(double milliseconds)
    {
        lock (_lock)
        {
            _samples[(int)(_count % _samples.Length)] = milliseconds;
            _count++;
            if (milliseconds > _max)
            {
                _max = milliseconds;
            }
        }
    }

    public LatencySummary Summarize()
    {
        double[] copy;
        double max;
        lock (_lock)
        {
            int n = (int)Math.Min(_count, _samples.Length);
            copy = _samples[..n];
            max = _max;
        }

        if (copy.Length == 0)
        {
            return default;
        }

        Array.Sort(copy);
        return new LatencySummary(Percentile(copy, 0.50), Percentile(copy, 0.99), max);
    }

    private static double Percentile(double[] sorted, double p)
    {
        // Nearest-rank: the smallest sample with at least p of the samples at or below it.
        int rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

public readonly record struct LatencySummary(double P50, double P99, double Max);
