using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace SocketCam.Diagnostics;

/// <summary>
/// Rate-limits repeated log lines, so an attack (a connect storm, a token guesser) cannot flood the log: per category and
/// event id, at most <see cref="LinesPerWindow"/> lines pass in each window; the rest are counted and reported as one
/// line when the window ends ("… 3812 more like this in the last 10 s"). Wraps the factory the CLI writes with.
/// </summary>
public sealed class ThrottledLoggerFactory : ILoggerFactory
{
    private readonly ILoggerFactory _inner;
    private readonly ConcurrentDictionary<(string Category, int EventId, LogLevel Level), Bucket> _buckets = new();
    private readonly Timer _timer;
    private readonly long _windowTicks;

    public ThrottledLoggerFactory(ILoggerFactory inner, int linesPerWindow = 20, TimeSpan? window = null)
    {
        _inner = inner;
        LinesPerWindow = linesPerWindow;
        Window = window ?? TimeSpan.FromSeconds(10);
        _windowTicks = (long)(Window.TotalSeconds * Stopwatch.Frequency);
        _timer = new Timer(_ => FlushExpired(), null, Window, Window);
    }

    public int LinesPerWindow { get; }

    public TimeSpan Window { get; }

    /// <summary>Lines held back since the start (for tests and /metrics).</summary>
    public long Suppressed => Interlocked.Read(ref _suppressedTotal);

    private long _suppressedTotal;

    public ILogger CreateLogger(string categoryName) => new ThrottledLogger(this, categoryName, _inner.CreateLogger(categoryName));

    public void AddProvider(ILoggerProvider provider) => _inner.AddProvider(provider);

    public void Dispose()
    {
        _timer.Dispose();
        FlushExpired(force: true);
        _inner.Dispose();
    }

    private bool Admit(string category, LogLevel level, EventId eventId, ILogger logger)
    {
        Bucket bucket = _buckets.GetOrAdd((category, eventId.Id, level), static (_, l) => new Bucket(l), logger);
        long now = Stopwatch.GetTimestamp();
        lock (bucket)
        {
            if (now - bucket.WindowStart >= _windowTicks)
            {
                Report(bucket, level, eventId, now);
            }

            if (bucket.Passed < LinesPerWindow)
            {
                bucket.Passed++;
                bucket.LastEvent = eventId;
                return true;
            }

            bucket.Held++;
            bucket.LastEvent = eventId;
            Interlocked.Increment(ref _suppressedTotal);
            return false;
        }
    }

    private void FlushExpired(bool force = false)
    {
        long now = Stopwatch.GetTimestamp();
        foreach (((_, _, LogLevel level), Bucket bucket) in _buckets)
        {
            lock (bucket)
            {
                if (force || now - bucket.WindowStart >= _windowTicks)
                {
                    Report(bucket, level, bucket.LastEvent, now);
                }
            }
        }
    }

    /// <summary>Under the bucket's lock: says how many lines were held back, and starts a new window.</summary>
    private void Report(Bucket bucket, LogLevel level, EventId eventId, long now)
    {
        if (bucket.Held > 0)
        {
            double seconds = (now - bucket.WindowStart) / (double)Stopwatch.Frequency;
            string name = eventId.Name ?? eventId.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            string text = $"... {bucket.Held} more lines like the last one ({name}) in the last {seconds:0} s, not shown";
            bucket.Logger.Log(level, eventId, text, null, static (t, _) => t);
        }

        bucket.WindowStart = now;
        bucket.Passed = 0;
        bucket.Held = 0;
    }

    private sealed class Bucket(ILogger logger)
    {
        public ILogger Logger { get; } = logger;

        public long WindowStart = Stopwatch.GetTimestamp();
        public int Passed;
        public long Held;
        public EventId LastEvent;
    }

    private sealed class ThrottledLogger(ThrottledLoggerFactory owner, string category, ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (inner.IsEnabled(logLevel) && owner.Admit(category, logLevel, eventId, inner))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
