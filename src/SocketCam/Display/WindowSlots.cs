using System.Globalization;

namespace SocketCam.Display;

/// <summary>
/// Cascade places for windows across processes: two `socketcam view` windows must not open exactly on top of each other.
/// Each window claims the lowest free slot (a file named by its number in a per-user directory, holding the owner's pid);
/// a slot whose owner died (kill -9) is taken over. The slot becomes an offset from the centred position.
/// </summary>
internal sealed class WindowSlots : IDisposable
{
    /// <summary>Slots before the cascade wraps back to the centre.</summary>
    public const int Count = 8;

    /// <summary>Pixels between one cascaded window and the next, right and down.</summary>
    public const int Step = 40;

    private readonly string? _path;

    private WindowSlots(int slot, string? path)
    {
        Slot = slot;
        _path = path;
    }

    /// <summary>This window's slot, 0 .. <see cref="Count"/> − 1 (0 when none could be claimed).</summary>
    public int Slot { get; }

    /// <summary>Claims the lowest free slot; never throws (a window without a slot opens centred).</summary>
    public static WindowSlots Claim()
    {
        try
        {
            string directory = Directory();
            System.IO.Directory.CreateDirectory(directory);
            string pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            for (int slot = 0; slot < Count; slot++)
            {
                string path = Path.Combine(directory, "slot-" + slot.ToString(CultureInfo.InvariantCulture));
                if (TryCreate(path, pid) || (OwnerIsGone(path) && TryTakeOver(path, pid)))
                {
                    return new WindowSlots(slot, path);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Placement is a nicety: a read-only or odd runtime directory must not stop a window from opening.
        }

        return new WindowSlots(0, null);
    }

    public void Dispose()
    {
        if (_path is not null)
        {
            try
            {
                File.Delete(_path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static string Directory()
    {
        string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        return !string.IsNullOrEmpty(runtime) && System.IO.Directory.Exists(runtime)
            ? Path.Combine(runtime, "socketcam-windows")
            : Path.Combine(Path.GetTempPath(), "socketcam-windows-" + Environment.UserName);
    }

    private static bool TryCreate(string path, string pid)
    {
        try
        {
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
            file.Write(System.Text.Encoding.ASCII.GetBytes(pid));
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
    }

    /// <summary>The slot's owner no longer runs (its pid is not in /proc), or the file is unreadable garbage.</summary>
    private static bool OwnerIsGone(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path).Trim();
        }
        catch (FileNotFoundException)
        {
            return true;
        }

        if (text.Length == 0)
        {
            // Being written this very moment, or left empty by a crash: only the latter is old.
            return DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > TimeSpan.FromSeconds(5);
        }

        return !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int owner)
            || !System.IO.Directory.Exists("/proc/" + owner.ToString(CultureInfo.InvariantCulture));
    }

    // Two takers at once may both succeed; the cost is two windows at one place, as before slots existed.
    private static bool TryTakeOver(string path, string pid)
    {
        File.Delete(path);
        return TryCreate(path, pid);
    }
}
