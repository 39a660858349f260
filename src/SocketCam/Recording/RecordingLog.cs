using Microsoft.Extensions.Logging;

namespace SocketCam.Recording;

/// <summary>The recorders' log lines (event ids 301-399).</summary>
internal static partial class RecordingLog
{
    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "{Name}: recording to {Path}")]
    public static partial void FileOpened(ILogger logger, string name, string path);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "{Name}: closed {Path} ({Frames} frames, {Bytes} bytes)")]
    public static partial void FileClosed(ILogger logger, string name, string path, long frames, long bytes);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning,
        Message = "{Name}: recorder cannot keep up: slowing input ({Frames} frames, {Bytes} bytes queued)")]
    public static partial void CannotKeepUp(ILogger logger, string name, int frames, long bytes);

    [LoggerMessage(EventId = 304, Level = LogLevel.Information,
        Message = "{Name}: recorder caught up; input was held back {StalledMs} ms over {Frames} frames")]
    public static partial void CaughtUp(ILogger logger, string name, long stalledMs, long frames);

    [LoggerMessage(EventId = 305, Level = LogLevel.Error, Message = "{Name}: recording stopped: {Reason}")]
    public static partial void Failed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 309, Level = LogLevel.Error, Message = "{Name}: recording stopped by an unexpected failure")]
    public static partial void FailedUnexpectedly(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = 306, Level = LogLevel.Warning, Message = "{Name}: frame {Sequence} not recorded: {Reason}")]
    public static partial void FrameSkipped(ILogger logger, string name, long sequence, string reason);

    [LoggerMessage(EventId = 307, Level = LogLevel.Debug,
        Message = "{Name}: recorded {Frames} frames to {Description} (input held back {StalledMs} ms in {Episodes} episode(s))")]
    public static partial void Finished(ILogger logger, string name, long frames, string description, long stalledMs, long episodes);

    [LoggerMessage(EventId = 308, Level = LogLevel.Warning, Message = "{Name}: finishing took longer than {Seconds} s: recording cut short")]
    public static partial void CutShort(ILogger logger, string name, double seconds);

    [LoggerMessage(EventId = 310, Level = LogLevel.Error, Message = "Recording to {Directory} stopped: {Reason}; frames are not recorded until there is room again (checked every 5 s)")]
    public static partial void QuotaStopped(ILogger logger, string directory, string reason);

    [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "Recording to {Directory} resumed ({Frames} frames were not recorded meanwhile)")]
    public static partial void QuotaResumed(ILogger logger, string directory, long frames);

    [LoggerMessage(EventId = 312, Level = LogLevel.Warning, Message = "{Path}: {Packets} audio packet(s) not recorded so far: {Reason}")]
    public static partial void AudioSkipped(ILogger logger, string path, long packets, string reason);
}
