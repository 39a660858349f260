using Microsoft.Extensions.Logging;

namespace SocketCam.Chat;

internal static partial class ChatLog
{
    [LoggerMessage(EventId = 901, Level = LogLevel.Error, Message = "chat store {Path} failed: {Reason}")]
    public static partial void StoreFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 902, Level = LogLevel.Error, Message = "a stored chat message could not be announced in room '{Room}': {Reason}")]
    public static partial void AnnounceFailed(ILogger logger, string room, string reason);
}
