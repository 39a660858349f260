using Microsoft.Extensions.Logging;

namespace SocketCam.Sources;

internal static partial class SourceLog
{
    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "{Source}: no MJPEG from the camera, using raw frames and our encoder")]
    public static partial void FallingBackToRaw(ILogger logger, string source);

    [LoggerMessage(EventId = 212, Level = LogLevel.Warning, Message = "{Source}: dropped {Count} corrupt JPEG(s): {Reason}")]
    public static partial void CorruptJpeg(ILogger logger, string source, long count, string reason);

    [LoggerMessage(EventId = 213, Level = LogLevel.Information, Message = "{Source}: ended after {Frames} frames")]
    public static partial void Ended(ILogger logger, string source, long frames);

    [LoggerMessage(EventId = 214, Level = LogLevel.Warning, Message = "{Source}: {Reason}")]
    public static partial void Failed(ILogger logger, string source, string reason);
}
