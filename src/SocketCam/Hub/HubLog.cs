using Microsoft.Extensions.Logging;

using SocketCam.Rooms;

namespace SocketCam.Hub;

/// <summary>The hub's log lines; event ids are stable so logs can be filtered.</summary>
internal static partial class HubLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Listening on tcp://{EndPoint}")]
    public static partial void Listening(ILogger logger, string endPoint);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "{Remote} joined room '{Room}' as {Role} ({Agent})")]
    public static partial void Joined(ILogger logger, string remote, string room, string role, string agent);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "{Remote} left room '{Room}': {Reason} (sent {Frames} frames, skipped {Dropped})")]
    public static partial void Left(ILogger logger, string remote, string room, string reason, long frames, long dropped);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "{Remote} rejected: {Code}: {Reason}")]
    public static partial void Rejected(ILogger logger, string remote, string code, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "{Remote}: unexpected failure")]
    public static partial void Failed(ILogger logger, string remote, Exception exception);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Refused {Remote}: {Count} connections is the limit")]
    public static partial void TooManyConnections(ILogger logger, string remote, int count);

    // 7-9: the capture pipeline's lines, now in SourceLog beside CapturePipeline (same ids).

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Listening on unix://{Path}")]
    public static partial void ListeningUnix(ILogger logger, string path);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "Replaced the stale socket file {Path} (nothing listened on it: left by a process that ended without removing it)")]
    public static partial void ReplacedStaleSocket(ILogger logger, string path);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "Refused {Remote}: {Count} connections from {Address} is the limit per address")]
    public static partial void TooManyFromAddress(ILogger logger, string remote, int count, string address);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "{Remote}: publishing into room '{Room}' above --max-publish-fps {Fps} / --max-publish-bitrate {Bitrate}: frames over the limit are dropped")]
    public static partial void PublishRateLimited(ILogger logger, string remote, string room, double fps, double bitrate);

    // EventId 16 (memory given back after a burst) is logged by Limits.MemoryReclaimer with the hub's logger.

    [LoggerMessage(EventId = 17, Level = LogLevel.Warning, Message = "{Remote}: could not read the chat history: {Reason}")]
    public static partial void ChatHistoryFailed(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 18, Level = LogLevel.Information, Message = "Listening on tls://{EndPoint} (TLS 1.2/1.3, certificate SHA-256 {Fingerprint})")]
    public static partial void ListeningTls(ILogger logger, string endPoint, string fingerprint);

    [LoggerMessage(EventId = 19, Level = LogLevel.Information, Message = "{Remote}: TLS handshake failed: {Reason}")]
    public static partial void TlsFailed(ILogger logger, string remote, string reason);
}
