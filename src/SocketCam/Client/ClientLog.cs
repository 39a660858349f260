using Microsoft.Extensions.Logging;

namespace SocketCam.Client;

internal static partial class ClientLog
{
    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Connected to {Endpoint}, room '{Room}' (session {Session:x16})")]
    public static partial void Connected(ILogger logger, string endpoint, string room, ulong session);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "{Endpoint}: {Reason}; reconnecting in {DelayMs} ms")]
    public static partial void Reconnecting(ILogger logger, string endpoint, string reason, int delayMs);

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "{Endpoint}: connection refused: is `socketcam serve` running there, and is {Port} its port? Retrying until it answers")]
    public static partial void Refused(ILogger logger, string endpoint, int port);

    [LoggerMessage(EventId = 108, Level = LogLevel.Debug, Message = "{Endpoint}: {Reason} again; retrying in {DelayMs} ms")]
    public static partial void RetryingAgain(ILogger logger, string endpoint, string reason, int delayMs);

    [LoggerMessage(EventId = 109, Level = LogLevel.Information, Message = "Room '{Room}' has no publisher yet ({Others}); waiting for it to start")]
    public static partial void NoPublisher(ILogger logger, string room, string others);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Frame {Sequence} could not be decoded: {Reason}")]
    public static partial void CorruptFrame(ILogger logger, long sequence, string reason);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "No signal: {Reason}")]
    public static partial void NoSignal(ILogger logger, string reason);

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "Signal back")]
    public static partial void SignalBack(ILogger logger);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Source failed ({Reason}); retrying in {Seconds} s")]
    public static partial void SourceFailed(ILogger logger, string reason, double seconds);

    [LoggerMessage(EventId = 120, Level = LogLevel.Warning, Message = "Audio stopped ({Reason}); video goes on without it")]
    public static partial void AudioStopped(ILogger logger, string reason);
}
