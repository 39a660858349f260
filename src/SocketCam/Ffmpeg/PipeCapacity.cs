using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace SocketCam.Ffmpeg;

/// <summary>
/// Grows a pipe's kernel buffer from 64 KiB to 1 MiB (Linux F_SETPIPE_SZ). A raw 1080p picture is 3 MB: with the
/// default size each one takes ~48 reads and as many wake-ups; with 1 MiB, a handful.
/// </summary>
internal static partial class PipeCapacity
{
    public const int Size = 1 << 20;
    private const int SetPipeSize = 1031; // F_SETPIPE_SZ

    /// <summary>Best effort: the default size still works, only with more wake-ups.</summary>
    public static bool TryEnlarge(Stream stream)
    {
        if (!OperatingSystem.IsLinux() || stream is not PipeStream pipe)
        {
            return false;
        }

        try
        {
            int fd = (int)pipe.SafePipeHandle.DangerousGetHandle();
            return Fcntl(fd, SetPipeSize, Size) >= Size;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
