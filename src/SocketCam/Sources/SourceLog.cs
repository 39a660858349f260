using Microsoft.Extensions.Logging;

namespace SocketCam.Sources;

internal static partial class SourceLog
{
    // CapturePipeline's lines keep the ids they had as the hub's (7-9).
    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Room '{Room}': capturing from {Source}")]
    public static partial void CaptureStarted(ILogger logger, string room, string source);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "Room '{Room}': capture paused, nobody is watching")]
    public static partial void CapturePaused(ILogger logger, string room);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Room '{Room}': no signal ({Reason}); retrying in {Seconds} s")]
    public static partial void SourceEnded(ILogger logger, string room, string reason, double seconds);

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "{Source}: no MJPEG from the camera, using raw frames and our encoder")]
    public static partial void FallingBackToRaw(ILogger logger, string source);

    [LoggerMessage(EventId = 212, Level = LogLevel.Warning, Message = "{Source}: dropped {Count} corrupt JPEG(s): {Reason}")]
    public static partial void CorruptJpeg(ILogger logger, string source, long count, string reason);

    [LoggerMessage(EventId = 213, Level = LogLevel.Information, Message = "{Source}: ended after {Frames} frames")]
    public static partial void Ended(ILogger logger, string source, long frames);

    [LoggerMessage(EventId = 220, Level = LogLevel.Information, Message = "{Source}: not passed through as H.264: {Reason}; decoding and re-encoding it")]
    public static partial void NotPassedThrough(ILogger logger, string source, string reason);

    [LoggerMessage(EventId = 221, Level = LogLevel.Warning, Message = "{Source}: no H.264 from the camera, using raw frames and our encoder")]
    public static partial void NoH264FromCamera(ILogger logger, string source);

    [LoggerMessage(EventId = 222, Level = LogLevel.Warning, Message = "{Source}: dropped {Count} H.264 access unit(s): {Reason}")]
    public static partial void DroppedAccessUnits(ILogger logger, string source, long count, string reason);

    [LoggerMessage(EventId = 214, Level = LogLevel.Warning, Message = "{Source}: {Reason}")]
    public static partial void Failed(ILogger logger, string source, string reason);
}
