using Microsoft.Extensions.Logging;

namespace SocketCam.Transfer;

/// <summary>The image transfer's log lines; event ids are stable so logs can be filtered.</summary>
internal static partial class TransferLog
{
    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Receiving {Bytes} bytes from {Peer}")]
    public static partial void Receiving(ILogger logger, long bytes, string peer);

    [LoggerMessage(EventId = 402, Level = LogLevel.Debug, Message = "NACK {Sequence}: {Missing} parts missing in {Ranges} range(s)")]
    public static partial void NackSent(ILogger logger, int sequence, int missing, int ranges);

    [LoggerMessage(EventId = 403, Level = LogLevel.Debug, Message = "Retransmitting {Parts} part(s): the receiver misses {Missing}")]
    public static partial void Retransmitting(ILogger logger, int parts, int missing);

    [LoggerMessage(EventId = 404, Level = LogLevel.Debug, Message = "No answer from the receiver: probing with part {Index}")]
    public static partial void Probing(ILogger logger, int index);

    [LoggerMessage(EventId = 405, Level = LogLevel.Trace, Message = "Ignored a datagram from {Remote}: {Reason}")]
    public static partial void IgnoredDatagram(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 406, Level = LogLevel.Warning, Message = "Ignored a connection from {Remote}: {Reason}")]
    public static partial void IgnoredConnection(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 407, Level = LogLevel.Information, Message = "Sending {Bytes} bytes to {Peer}")]
    public static partial void Sending(ILogger logger, long bytes, string peer);

    [LoggerMessage(EventId = 408, Level = LogLevel.Debug, Message = "UDP transfer {TransferId:x16}: {Parts} parts")]
    public static partial void UdpTransfer(ILogger logger, ulong transferId, int parts);
}
