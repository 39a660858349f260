using Microsoft.Extensions.Logging;

namespace SocketCam.Udp;

/// <summary>Log lines of UDP live video; stable event ids 801-829.</summary>
internal static partial class UdpLog
{
    [LoggerMessage(EventId = 801, Level = LogLevel.Information, Message = "Listening on udp://{EndPoint}")]
    public static partial void Listening(ILogger logger, string endPoint);

    [LoggerMessage(EventId = 802, Level = LogLevel.Information, Message = "UDP {Remote} joined room '{Room}' as {Role} ({Agent}){Recovery}")]
    public static partial void Joined(ILogger logger, string remote, string room, string role, string agent, string recovery);

    [LoggerMessage(EventId = 803, Level = LogLevel.Information, Message = "UDP {Remote} left room '{Room}': {Reason} ({Detail})")]
    public static partial void Left(ILogger logger, string remote, string room, string reason, string detail);

    [LoggerMessage(EventId = 804, Level = LogLevel.Warning, Message = "UDP {Remote} refused: {Code} {Reason}")]
    public static partial void Refused(ILogger logger, string remote, string code, string reason);

    [LoggerMessage(EventId = 805, Level = LogLevel.Warning, Message = "UDP {Remote}: {Reason}; session ended")]
    public static partial void BadFrame(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 806, Level = LogLevel.Error, Message = "UDP {Remote}: unexpected failure")]
    public static partial void Failed(ILogger logger, string remote, Exception exception);

    [LoggerMessage(EventId = 807, Level = LogLevel.Information, Message = "UDP session {Session} with {Server} in room '{Room}'{Recovery}")]
    public static partial void Connected(ILogger logger, string session, string server, string room, string recovery);

    [LoggerMessage(EventId = 808, Level = LogLevel.Warning, Message = "UDP receive loop failed")]
    public static partial void ReceiveFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 809, Level = LogLevel.Warning, Message = "UDP {Remote}: reassembly budget spent ({InUse} MiB held; caps {PerAddress} MiB per address, {Total} MiB in all, and one frame's worth per session); its fragments are dropped")]
    public static partial void OverBudget(ILogger logger, string remote, long inUse, long perAddress, long total);

}
