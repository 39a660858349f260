using Microsoft.Extensions.Logging;

namespace SocketCam.Web;

/// <summary>Log lines of the HTTP listener; stable event ids 701-719.</summary>
internal static partial class WebLog
{
    [LoggerMessage(EventId = 701, Level = LogLevel.Information, Message = "HTTP listening on http://{EndPoint}")]
    public static partial void Listening(ILogger logger, string endPoint);

    [LoggerMessage(EventId = 702, Level = LogLevel.Information, Message = "MJPEG client {Remote} watching room '{Room}'")]
    public static partial void MjpegJoined(ILogger logger, string remote, string room);

    [LoggerMessage(EventId = 703, Level = LogLevel.Information, Message = "MJPEG client {Remote} left: {Reason} (sent {Frames} frames, skipped {Dropped})")]
    public static partial void MjpegLeft(ILogger logger, string remote, string reason, long frames, long dropped);

    [LoggerMessage(EventId = 704, Level = LogLevel.Warning, Message = "Refused MJPEG client {Remote}: {Count} MJPEG clients is the limit")]
    public static partial void TooMany(ILogger logger, string remote, int count);

    [LoggerMessage(EventId = 705, Level = LogLevel.Warning, Message = "HTTP {Remote}: {Path} refused: missing or wrong token")]
    public static partial void Unauthorized(ILogger logger, string remote, string path);

    [LoggerMessage(EventId = 706, Level = LogLevel.Error, Message = "MJPEG client {Remote}: unexpected failure")]
    public static partial void MjpegFailed(ILogger logger, string remote, Exception exception);

    [LoggerMessage(EventId = 707, Level = LogLevel.Warning, Message = "MJPEG client {Remote}: room '{Room}' sends {Codec} frames, which MJPEG cannot carry; skipped")]
    public static partial void NotJpeg(ILogger logger, string remote, string room, string codec);

    [LoggerMessage(EventId = 708, Level = LogLevel.Information, Message = "WebSocket {Remote} {Verb} room '{Room}'")]
    public static partial void SocketJoined(ILogger logger, string remote, string verb, string room);

    [LoggerMessage(EventId = 709, Level = LogLevel.Information, Message = "WebSocket {Remote} left room '{Room}': {Reason} ({Frames} frames, skipped {Dropped})")]
    public static partial void SocketLeft(ILogger logger, string remote, string room, string reason, long frames, long dropped);

    [LoggerMessage(EventId = 710, Level = LogLevel.Warning, Message = "WebSocket {Remote}: {Path} refused ({Code}): {Reason}")]
    public static partial void SocketRefused(ILogger logger, string remote, string path, int code, string reason);

    [LoggerMessage(EventId = 711, Level = LogLevel.Warning, Message = "HTTP connection from {Address} refused: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string address, string reason);

    [LoggerMessage(EventId = 712, Level = LogLevel.Warning, Message = "WebSocket {Remote}: {Path} refused (403): Origin '{Origin}' is not this server's ({Self}) nor allowed by --allow-origin")]
    public static partial void ForbiddenOrigin(ILogger logger, string remote, string path, string origin, string self);

    [LoggerMessage(EventId = 713, Level = LogLevel.Warning, Message = "HTTP {Remote}: {Path} refused (429): too many wrong tokens from this address, blocked for {Seconds} s")]
    public static partial void Throttled(ILogger logger, string remote, string path, int seconds);

    [LoggerMessage(EventId = 714, Level = LogLevel.Warning, Message = "Refused MJPEG client {Remote}: its address holds {Count} MJPEG streams already")]
    public static partial void TooManyFromAddress(ILogger logger, string remote, int count);

    [LoggerMessage(EventId = 715, Level = LogLevel.Warning, Message = "WebSocket publisher {Remote} in room '{Room}': frames above --max-publish-fps/--max-publish-bitrate are dropped")]
    public static partial void PublishRateLimited(ILogger logger, string remote, string room);

}
