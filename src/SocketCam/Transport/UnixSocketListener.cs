using System.Net.Sockets;
using System.Runtime.InteropServices;
using SocketCam.Diagnostics;

namespace SocketCam.Transport;

/// <summary>
/// A listening Unix domain socket that owns its file. A socket file left behind by a crash is replaced, but only after
/// checking it really is dead: the path must be a socket (a regular file, directory or symlink is never deleted) and a
/// connect to it must be refused (a live listener, SocketCam or not, makes <see cref="Listen"/> fail instead). On
/// <see cref="Dispose"/> the file is removed if it is still the one this listener bound (same device and inode).
/// </summary>
/// <remarks>
/// Who may connect is up to the file's permissions: the socket is created with the process's umask (with the usual 022
/// only its owner can connect, since connecting needs write permission), so put it in a directory with the access you
/// want. Linux only: telling a socket file from a regular one needs statx, which .NET does not expose.
/// </remarks>
internal sealed partial class UnixSocketListener : IDisposable
{
    private readonly FileIdentity _identity;
    private int _disposed;

    private UnixSocketListener(Socket socket, string path, FileIdentity identity, bool replacedStale)
    {
        Socket = socket;
        Path = path;
        _identity = identity;
        ReplacedStale = replacedStale;
    }

    /// <summary>True when a stale socket file (nobody listening) was removed to make way: worth a line in the log.</summary>
    public bool ReplacedStale { get; }

    public Socket Socket { get; }

    /// <summary>The socket file (absolute).</summary>
    public string Path { get; }

    /// <summary>
    /// Binds and listens on <paramref name="path"/>, replacing a stale socket file. Throws <see cref="UserFacingException"/>
    /// (one line, naming the path) when another process listens there, the path is not a socket, or it cannot be bound.
    /// </summary>
    public static UnixSocketListener Listen(string path, int backlog)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new UserFacingException($"--unix {path}: serving on a Unix socket is supported on Linux only.");
        }

        path = StreamEndpoint.Unix(path).Host;
        // Two SocketCams starting on the same stale path must not both replace it (the second would delete the first's
        // fresh socket): the check-delete-bind below runs under an exclusive lock on the directory. Other programs do
        // not take it; for them the connect probe is the guard.
        using DirectoryLock directoryLock = DirectoryLock.Take(System.IO.Path.GetDirectoryName(path)!);
        bool replaced = false;
        for (int attempt = 0; ; attempt++)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                Bind(socket, path);
                socket.Listen(backlog);
                FileIdentity identity = FileStatus.Get(path) is { IsSocket: true } status ? status.Identity
                    : throw new UserFacingException($"--unix {path}: the socket file vanished right after it was created.");
                return new UnixSocketListener(socket, path, identity, replaced);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt == 0)
            {
                socket.Dispose();
                replaced = RemoveIfStale(path);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                throw new UserFacingException(ex.SocketErrorCode switch
                {
                    SocketError.AddressAlreadyInUse => $"--unix {path}: the path is taken again as soon as it is freed: is another server starting there?",
                    SocketError.AccessDenied => $"--unix {path}: permission denied: pick a path in a directory you can write to.",
                    SocketError.AddressNotAvailable => $"--unix {path}: the directory does not exist.",
                    _ => $"--unix {path}: {ex.Message}",
                }, ex);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Binds <paramref name="socket"/> to <paramref name="path"/> so that disposing it leaves the file alone. Bound with a
    /// <see cref="UnixDomainSocketEndPoint"/>, .NET deletes the path when the socket is disposed, whoever's file it is
    /// by then; the listener removes its file itself, and only if it is still its own.
    /// </summary>
    internal static void Bind(Socket socket, string path) => socket.Bind(new KeptFileEndPoint(new UnixDomainSocketEndPoint(path)));

    /// <summary>
    /// Deletes the file at <paramref name="path"/> if it is a socket nobody listens on (true), otherwise throws; false when
    /// there was nothing to delete after all.
    /// </summary>
    private static bool RemoveIfStale(string path)
    {
        FileStatus? before = FileStatus.Get(path);
        if (before is null)
        {
            return false; // gone meanwhile: bind again
        }

        if (!before.Value.IsSocket)
        {
            throw new UserFacingException($"--unix {path}: the path exists and is not a socket: not replacing it (remove it yourself or pick another path).");
        }

        if (IsListenedOn(path))
        {
            throw new UserFacingException($"--unix {path}: another process is listening on {path}: stop it or pick another path.");
        }

        // Delete the very file that refused the probe, not one another program has put there since.
        if (FileStatus.Get(path) is { } after && after.Identity == before.Value.Identity)
        {
            try
            {
                File.Delete(path);
                return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new UserFacingException($"--unix {path}: a stale socket file is in the way and cannot be removed: {ex.Message}", ex);
            }
        }

        return false;
    }

    /// <summary>
    /// Connects to the path without blocking: refused means nobody listens (a stale file); accepted, or "try again"
    /// (a live listener whose backlog is full), means somebody does.
    /// </summary>
    private static bool IsListenedOn(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress or SocketError.TryAgain)
        {
            return true;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return false;
        }
        catch (SocketException ex)
        {
            throw new UserFacingException($"--unix {path}: cannot tell whether the existing socket is in use: {ex.Message}", ex);
        }
    }

    /// <summary>Stops listening and removes the socket file, if it is still the one this listener created.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Removed while still listening: until the file is gone, another SocketCam's probe finds it alive and leaves it.
        try
        {
            if (FileStatus.Get(Path) is { } status && status.Identity == _identity)
            {
                File.Delete(Path);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover file is replaced as stale by the next start.
        }

        Socket.Dispose();
    }

    /// <summary>
    /// A Unix socket address .NET does not recognise as one when binding (so it records no file to delete on dispose);
    /// what it creates from addresses the kernel reports (local and peer) are ordinary <see cref="UnixDomainSocketEndPoint"/>s.
    /// </summary>
    private sealed class KeptFileEndPoint(UnixDomainSocketEndPoint inner) : System.Net.EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Unix;

        public override System.Net.SocketAddress Serialize() => inner.Serialize();

        public override System.Net.EndPoint Create(System.Net.SocketAddress socketAddress) => inner.Create(socketAddress);

        public override string ToString() => inner.ToString();
    }

    /// <summary>A file's device and inode: equal means the same file, whatever its path or contents.</summary>
    private readonly record struct FileIdentity(uint DevMajor, uint DevMinor, ulong Inode);

    /// <summary>lstat's answers that matter here, read through statx (one struct layout on every Linux architecture).</summary>
    private readonly record struct FileStatus(bool IsSocket, FileIdentity Identity)
    {
        private const int AtFdCwd = -100;
        private const int AtSymlinkNoFollow = 0x100; // a symlink is described, never followed
        private const uint StatxType = 0x1;
        private const uint StatxIno = 0x100;
        private const int FileTypeMask = 0xF000; // S_IFMT
        private const int SocketType = 0xC000; // S_IFSOCK
        private const int NoSuchFile = 2; // ENOENT
        private const int NotADirectory = 20; // ENOTDIR

        /// <summary>The file at <paramref name="path"/> (not following a symlink), or null when there is none.</summary>
        public static unsafe FileStatus? Get(string path)
        {
            // struct statx is 256 bytes: stx_mode (u16) at 28, stx_ino (u64) at 32, stx_dev_major/minor (u32) at 136/140.
            byte* buffer = stackalloc byte[256];
            if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxIno, buffer) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is NoSuchFile or NotADirectory)
                {
                    return null;
                }

                throw new UserFacingException($"--unix {path}: cannot inspect the path: {Marshal.GetPInvokeErrorMessage(errno)}.");
            }

            int mode = *(ushort*)(buffer + 28);
            var identity = new FileIdentity(*(uint*)(buffer + 136), *(uint*)(buffer + 140), *(ulong*)(buffer + 32));
            return new FileStatus((mode & FileTypeMask) == SocketType, identity);
        }
    }

    /// <summary>flock(2) on a directory, held while a socket file in it is checked, replaced and bound.</summary>
    private readonly struct DirectoryLock : IDisposable
    {
        private const int ReadOnlyCloseOnExec = 0x80000; // O_RDONLY | O_CLOEXEC
        private const int Exclusive = 2; // LOCK_EX
        private readonly int _fd;

        private DirectoryLock(int fd) => _fd = fd;

        /// <summary>
        /// Waits for the lock (other SocketCams hold it for microseconds). Best effort: a directory that cannot be opened
        /// (no read permission) is used without it, and bind then reports whatever is wrong with the path.
        /// </summary>
        public static DirectoryLock Take(string directory)
        {
            int fd = Open(directory, ReadOnlyCloseOnExec);
            if (fd < 0)
            {
                return new DirectoryLock(-1);
            }

            while (Flock(fd, Exclusive) != 0)
            {
                if (Marshal.GetLastPInvokeError() != 4) // EINTR: try again; anything else: go on without the lock
                {
                    break;
                }
            }

            return new DirectoryLock(fd);
        }

        public void Dispose()
        {
            if (_fd >= 0)
            {
                _ = Close(_fd); // closing releases the lock
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directoryFd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
