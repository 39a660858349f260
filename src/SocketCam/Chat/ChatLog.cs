using Microsoft.Extensions.Logging;

namespace SocketCam.Chat;

internal static partial class ChatLog
{
    [LoggerMessage(EventId = 901, Level = LogLevel.Error, Message = "chat store {Path} failed: {Reason}")]
    public static partial void StoreFailed(ILogger logger, string path, string reason);
}
