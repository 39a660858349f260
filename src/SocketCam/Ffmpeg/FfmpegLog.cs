using Microsoft.Extensions.Logging;

namespace SocketCam.Ffmpeg;

internal static partial class FfmpegLog
{
    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "Starting {Tool} {Arguments}")]
    public static partial void Starting(ILogger logger, string tool, string arguments);

    [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "{Tool}: {Line}")]
    public static partial void Stderr(ILogger logger, string tool, string line);

    [LoggerMessage(EventId = 203, Level = LogLevel.Debug, Message = "{Tool} (pid {Pid}) exited with code {ExitCode}")]
    public static partial void Exited(ILogger logger, string tool, int pid, int exitCode);
}
