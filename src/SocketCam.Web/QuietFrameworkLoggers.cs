using Microsoft.Extensions.Logging;

namespace SocketCam.Web;

/// <summary>
/// The caller's logger factory for Kestrel and hosting, minus their routine lines ("Now listening on", request
/// starts): framework categories log warnings and errors only, and the generic host not at all (a start failure, e.g.
/// the address in use, reaches the caller as an exception and is reported once, as one line). Ours pass through unchanged.
/// </summary>
internal sealed class QuietFrameworkLoggers(ILoggerFactory inner) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName)
    {
        ILogger logger = inner.CreateLogger(categoryName);
        if (categoryName.StartsWith("Microsoft.Extensions.Hosting", StringComparison.Ordinal))
        {
            return Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        }

        return categoryName.StartsWith("Microsoft.", StringComparison.Ordinal) ? new WarningsOnly(logger) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>The caller owns (and disposes) the inner factory.</summary>
    public void Dispose()
    {
    }

    private sealed class WarningsOnly(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
