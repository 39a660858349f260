using Microsoft.Extensions.Logging;

namespace SocketCam.Tests.Support;

/// <summary>One line a logger wrote.</summary>
internal sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception)
{
    public override string ToString() => $"{Level} [{EventId.Id}] {Category}: {Message}{(Exception is null ? "" : " " + Exception.GetType().Name)}";
}

/// <summary>Records every log line in memory; tests wait for a line with <see cref="WaitForAsync"/>.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly Lock _lock = new();
    private readonly List<LogEntry> _entries = [];
    private readonly List<(Func<LogEntry, bool> Match, TaskCompletionSource<LogEntry> Done)> _waiters = [];

    public IReadOnlyList<LogEntry> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>A factory that sends everything (Trace and up) to this provider.</summary>
    public ILoggerFactory CreateFactory() => LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(this));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>Completes with the first line (already written or still to come) that matches; fails after <paramref name="timeout"/>.</summary>
    public Task<LogEntry> WaitForAsync(Func<LogEntry, bool> match, TimeSpan timeout, string what)
    {
        var done = new TaskCompletionSource<LogEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            LogEntry? existing = _entries.FirstOrDefault(match);
            if (existing is not null)
            {
                return Task.FromResult(existing);
            }

            _waiters.Add((match, done));
        }

        return WithTimeout(done.Task, timeout, what);
    }

    /// <summary>Completes when <paramref name="count"/> lines match (counting those already written).</summary>
    public Task WaitForCountAsync(Func<LogEntry, bool> match, int count, TimeSpan timeout, string what)
    {
        var done = new TaskCompletionSource<LogEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        int seen = 0;
        bool Counting(LogEntry e) => match(e) && ++seen >= count;
        lock (_lock)
        {
            foreach (LogEntry e in _entries)
            {
                if (Counting(e))
                {
                    return Task.CompletedTask;
                }
            }

            _waiters.Add((Counting, done));
        }

        return WithTimeout(done.Task, timeout, what);
    }

    public string Dump()
    {
        lock (_lock)
        {
            return string.Join(Environment.NewLine, _entries);
        }
    }

    public void Dispose()
    {
    }

    private static async Task<LogEntry> WithTimeout(Task<LogEntry> task, TimeSpan timeout, string what)
    {
        try
        {
            return await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No log line {what} within {timeout.TotalSeconds:0.#} s.");
        }
    }

    private void Add(LogEntry entry)
    {
        List<TaskCompletionSource<LogEntry>> ready = [];
        lock (_lock)
        {
            _entries.Add(entry);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(entry))
                {
                    ready.Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        foreach (TaskCompletionSource<LogEntry> done in ready)
        {
            done.TrySetResult(entry);
        }
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Add(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception));
    }
}
