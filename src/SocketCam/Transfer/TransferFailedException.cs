namespace SocketCam.Transfer;

/// <summary>
/// A transfer that ended without a file (nothing was written). The message is written for the user (one line: what
/// happened, which parts were missing, what to do). An <see cref="IOException"/>, so hosts report it like other I/O
/// failures.
/// </summary>
internal sealed class TransferFailedException : IOException
{
    public TransferFailedException(TransferCode code, string message, IReadOnlyList<PartRange>? missing = null)
        : base(message)
    {
        Code = code;
        Missing = missing ?? [];
    }

    public TransferFailedException(TransferCode code, string message, Exception innerException)
        : base(message, innerException)
    {
        Code = code;
        Missing = [];
    }

    public TransferCode Code { get; }

    /// <summary>UDP: the parts that never arrived (numbered from 0), when known.</summary>
    public IReadOnlyList<PartRange> Missing { get; }
}
