namespace SocketCam.Protocol;

/// <summary>The peer broke the protocol; <see cref="Code"/> is what we tell it before closing.</summary>
public sealed class ProtocolException : Exception
{
    public ProtocolException(ErrorCode code, string message)
        : base(message)
    {
        Code = code;
    }

    public ProtocolException()
        : this(ErrorCode.Malformed, "Protocol error.")
    {
    }

    public ProtocolException(string message)
        : this(ErrorCode.Malformed, message)
    {
    }

    public ProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = ErrorCode.Malformed;
    }

    public ErrorCode Code { get; }

    /// <summary>Bad magic only: the first bytes the peer sent (up to 16), to tell what answered instead.</summary>
    public byte[]? Seen { get; init; }
}

/// <summary>The peer sent ERROR: the session is over, for the reason it gave.</summary>
public sealed class RemoteErrorException : Exception
{
    public RemoteErrorException(ErrorCode code, string reason)
        : base($"Server said {code.ToWireName()}: {reason}")
    {
        Code = code;
        Reason = reason;
    }

    public RemoteErrorException()
        : this(ErrorCode.Malformed, string.Empty)
    {
    }

    public RemoteErrorException(string message)
        : base(message)
    {
        Reason = message;
    }

    public RemoteErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = message;
    }

    public ErrorCode Code { get; }

    public string Reason { get; }
}
