namespace SocketCam.Seed;

/// <summary>
/// A seed-format frame (length prefix or pickle) that is not an allowed numpy image; the message says what. An
/// <see cref="IOException"/>: like a broken connection, it ends the session (and is retried like one).
/// </summary>
internal sealed class SeedFormatException : IOException
{
    public SeedFormatException()
    {
    }

    public SeedFormatException(string message)
        : base(message)
    {
    }

    public SeedFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
