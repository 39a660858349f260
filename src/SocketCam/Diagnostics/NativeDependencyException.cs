namespace SocketCam.Diagnostics;

/// <summary>
/// A native library the engine needs is not installed. The message is a single line telling the user what to install;
/// the CLI prints only the message (no stack trace).
/// </summary>
public sealed class NativeDependencyException : Exception
{
    public NativeDependencyException()
        : base("A native library is missing.")
    {
    }

    public NativeDependencyException(string message)
        : base(message)
    {
    }

    public NativeDependencyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
