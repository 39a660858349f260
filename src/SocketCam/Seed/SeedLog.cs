using Microsoft.Extensions.Logging;

namespace SocketCam.Seed;

/// <summary>Log lines of the seed-format listener and readers; stable event ids 601-619.</summary>
internal static partial class SeedLog
{
    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "Seed-format listener on tcp://{EndPoint} (room '{Room}')")]
    public static partial void Listening(ILogger logger, string endPoint, string room);

    [LoggerMessage(EventId = 602, Level = LogLevel.Information, Message = "Seed client {Remote} watching room '{Room}'")]
    public static partial void Joined(ILogger logger, string remote, string room);

    [LoggerMessage(EventId = 603, Level = LogLevel.Information, Message = "Seed client {Remote} left: {Reason} (sent {Frames} frames, skipped {Dropped})")]
    public static partial void Left(ILogger logger, string remote, string reason, long frames, long dropped);

    [LoggerMessage(EventId = 604, Level = LogLevel.Warning, Message = "Refused seed client {Remote}: {Count} seed connections is the limit")]
    public static partial void TooMany(ILogger logger, string remote, int count);

    [LoggerMessage(EventId = 605, Level = LogLevel.Warning, Message = "Seed client {Remote}: frame {Sequence} skipped: {Reason}")]
    public static partial void ConvertFailed(ILogger logger, string remote, long sequence, string reason);

    [LoggerMessage(EventId = 606, Level = LogLevel.Error, Message = "Seed client {Remote}: unexpected failure")]
    public static partial void Failed(ILogger logger, string remote, Exception exception);

    [LoggerMessage(EventId = 607, Level = LogLevel.Information, Message = "Connected to seed server {Endpoint}")]
    public static partial void Connected(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 608, Level = LogLevel.Warning, Message = "Refused seed client {Remote}: {Count} seed connections from {Address} is the limit per address")]
    public static partial void TooManyFromAddress(ILogger logger, string remote, int count, string address);
}
