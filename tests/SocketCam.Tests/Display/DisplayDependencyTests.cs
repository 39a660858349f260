using SocketCam.Diagnostics;
using SocketCam.Display;
using SocketCam.Display.Sdl;

namespace SocketCam.Tests.Display;

/// <summary>What decides whether a window can open at all, before any SDL call.</summary>
public sealed class DisplayDependencyTests
{
    [Fact]
    public void Sdl2_is_installed_with_every_function_the_window_calls()
    {
        Assert.True(SdlLibrary.IsLoadable(SdlNative.LibraryName), "libSDL2-2.0.so.0 is missing: scripts/setup installs libsdl2-2.0-0");
        SdlLibrary.EnsureAvailable();
    }

    [Fact]
    public void A_missing_library_is_detected_and_the_message_names_the_package()
    {
        Assert.False(SdlLibrary.IsLoadable("libSDL2-no-such-version.so.9"));
        var error = new NativeDependencyException(SdlLibrary.MissingMessage);
        Assert.StartsWith("SDL2 was not found: install it (sudo apt-get install libsdl2-2.0-0)", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("", "", false)]
    [InlineData("  ", null, false)]
    [InlineData(":0", null, true)]
    [InlineData(null, "wayland-0", true)]
    [InlineData(":1", "wayland-0", true)]
    public void A_display_is_DISPLAY_or_WAYLAND_DISPLAY(string? display, string? wayland, bool expected)
    {
        Assert.Equal(expected, DisplayEnvironment.HasDisplay(Variables(display, wayland)));
    }

    [Theory]
    [InlineData(":0", null, "x11")]
    [InlineData(null, "wayland-0", "wayland")]
    [InlineData(":0", "wayland-0", "x11,wayland")]
    public void Sdl_may_only_use_the_desktop_drivers_whose_display_is_set(string? display, string? wayland, string drivers)
    {
        Assert.Equal(drivers, SdlWindow.DesktopDrivers(Variables(display, wayland)));
    }

    [Fact]
    public void Overlay_text_is_drawn_as_runs_of_lit_pixels()
    {
        var rects = new List<SdlRect>();
        OverlayFont.AppendText(rects, "T", 10, 20, 2);
        // T: a full top row (one 5-pixel run), then the stem: one pixel in each of the 6 rows below.
        Assert.Equal(7, rects.Count);
        Assert.Equal(new SdlRect(10, 20, 10, 2), rects[0]);
        Assert.All(rects.Skip(1), r => Assert.Equal((14, 2, 2), (r.X, r.W, r.H)));

        rects.Clear();
        OverlayFont.AppendText(rects, "fps \u00e9", 0, 0, 1); // lower case drawn as capitals, unknown as blank
        int capitals = rects.Count;
        rects.Clear();
        OverlayFont.AppendText(rects, "FPS", 0, 0, 1);
        Assert.Equal(rects.Count, capitals);
        Assert.Equal(0, OverlayFont.TextWidth(0, 3));
        Assert.Equal(((4 * 6) - 1) * 2, OverlayFont.TextWidth(4, 2));
    }

    private static Func<string, string?> Variables(string? display, string? wayland) => name => name switch
    {
        "DISPLAY" => display,
        "WAYLAND_DISPLAY" => wayland,
        _ => null,
    };
}
