using SocketCam.Diagnostics;

namespace SocketCam.Display;

/// <summary>Whether this process can open a window at all, checked before anything starts (one clear line, not an SDL error).</summary>
internal static class DisplayEnvironment
{
    /// <summary>True when DISPLAY (X11) or WAYLAND_DISPLAY names a display; empty values count as unset.</summary>
    public static bool HasDisplay(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        return !string.IsNullOrWhiteSpace(getVariable("DISPLAY")) || !string.IsNullOrWhiteSpace(getVariable("WAYLAND_DISPLAY"));
    }

    /// <summary>
    /// Throws a <see cref="UserFacingException"/> saying that <paramref name="feature"/> (e.g. "view --window") needs a display
    /// and what to do instead (<paramref name="alternative"/>), when no display is set; then checks that SDL2 is installed
    /// (<see cref="NativeDependencyException"/> naming the package otherwise).
    /// </summary>
    public static void Require(string feature, string alternative)
    {
        if (!HasDisplay(Environment.GetEnvironmentVariable))
        {
            throw new UserFacingException(
                $"{feature} needs a display (DISPLAY is not set): run it in an X11 or Wayland session, or {alternative}.");
        }

        Sdl.SdlLibrary.EnsureAvailable();
    }
}
