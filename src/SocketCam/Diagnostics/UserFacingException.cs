namespace SocketCam.Diagnostics;

/// <summary>
/// An error whose message is written for the user (what went wrong and what to do): the CLI prints it as one line.
/// Anything else unexpected keeps its stack trace, because it is a bug.
/// </summary>
public sealed class UserFacingException : Exception
{
    public UserFacingException()
    {
    }

    public UserFacingException(string message)
        : base(message)
    {
    }

    public UserFacingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
