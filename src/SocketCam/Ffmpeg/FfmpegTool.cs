using SocketCam.Diagnostics;

namespace SocketCam.Ffmpeg;

/// <summary>Finds Debian's `ffmpeg` / `ffprobe` programs; a missing one is a one-line error naming the package.</summary>
internal static class FfmpegTool
{
    public const string Ffmpeg = "ffmpeg";
    public const string Ffprobe = "ffprobe";

    /// <summary>Full path of <paramref name="tool"/> on PATH (or $SOCKETCAM_FFMPEG for ffmpeg itself).</summary>
    public static string Locate(string tool = Ffmpeg) =>
        TryLocate(tool) ?? throw new NativeDependencyException(
            $"{tool} was not found: install it (sudo apt-get install ffmpeg), or use --source pattern for the built-in test pattern.");

    public static bool IsAvailable(string tool = Ffmpeg) => TryLocate(tool) is not null;

    public static string? TryLocate(string tool)
    {
        if (tool == Ffmpeg && Environment.GetEnvironmentVariable("SOCKETCAM_FFMPEG") is { Length: > 0 } overridden)
        {
            return File.Exists(overridden) ? overridden : null;
        }

        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
