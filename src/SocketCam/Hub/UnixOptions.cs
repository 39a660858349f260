namespace SocketCam.Hub;

/// <summary>The native protocol's Unix domain socket listener (`serve --unix`), same protocol as TCP.</summary>
public sealed record UnixOptions
{
    /// <summary>
    /// The socket file; no default (required). A stale socket file from a crash is replaced, a live one or a non-socket file
    /// is not; the file is removed on shutdown (<see cref="Transport.UnixSocketListener"/>). Who can connect is up to the
    /// file's permissions (the umask) and its directory's.
    /// </summary>
    public required string Path { get; init; }
}
