using Microsoft.Extensions.Logging;

namespace SocketCam.Rooms;

/// <summary>The rooms' log lines (event ids 10-11, as when they were the hub's; 20).</summary>
internal static partial class RoomLog
{
    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Room '{Room}': no signal: {Reason}")]
    public static partial void NoSignal(ILogger logger, string room, string reason);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Room '{Room}': signal back")]
    public static partial void SignalBack(ILogger logger, string room);

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "H.264 to JPEG for v1 viewers: {Reason}")]
    public static partial void TranscodeFailed(ILogger logger, string reason);
}
