using System.Runtime.InteropServices;
using SocketCam.Diagnostics;
using SocketCam.Media;

namespace SocketCam.Display.Sdl;

/// <summary>
/// One SDL window with its renderer, a streaming texture of the picture's size (a <see cref="VideoWindow"/>'s picture)
/// and the few drawing calls a window makes; more textures come from <see cref="CreateTexture"/>. Not thread-safe: created,
/// used and disposed on the render thread (SDL's rule).
/// </summary>
internal sealed unsafe class SdlWindow : IDisposable
{
    private nint _window;
    private nint _renderer;
    private SdlTexture? _picture;
    private bool _initialized;
    private readonly WindowSlots _slots = WindowSlots.Claim();

    private SdlWindow()
    {
    }

    /// <summary>The renderer SDL chose: "opengl" with a GPU or Mesa, "software" otherwise, ...</summary>
    public string RendererName { get; private set; } = "";

    /// <summary>Event type this window uses to be woken from another thread.</summary>
    public uint WakeEventType { get; private set; }

    public bool HasPicture => _picture is { HasContent: true };

    public int PictureWidth => _picture?.Width ?? 0;

    public int PictureHeight => _picture?.Height ?? 0;

    /// <summary>Minimized or hidden: nothing drawn is seen.</summary>
    public bool IsHidden => (SdlNative.GetWindowFlags(_window) & (SdlNative.WindowHidden | SdlNative.WindowMinimized)) != 0;

    /// <summary>Initializes SDL's video subsystem and opens a resizable window; throws <see cref="UserFacingException"/> on failure.</summary>
    public static SdlWindow Open(string title, int width, int height, string alternative)
    {
        // Set before SDL_Init: Ctrl+C must reach .NET (SDL would turn SIGINT into a quit event), a video window must not
        // switch off the desktop's compositor like a game, and scaled video looks better filtered.
        SdlNative.SetHint(SdlNative.HintNoSignalHandlers, "1");
        SdlNative.SetHint(SdlNative.HintBypassCompositor, "0");
        SdlNative.SetHint(SdlNative.HintRenderScaleQuality, "linear");
        // Only the desktop drivers whose display is set: otherwise SDL falls back to its invisible "offscreen" driver (a
        // window nobody sees), or tries Wayland and prints its own complaints. SDL_VIDEODRIVER in the environment still wins.
        SdlNative.SetHint(SdlNative.HintVideoDriver, DesktopDrivers(Environment.GetEnvironmentVariable));
        var window = new SdlWindow();
        try
        {
            if (SdlNative.Init(SdlNative.InitVideo) != 0)
            {
                throw Failure("cannot use the display", alternative);
            }

            window._initialized = true;
            // Hidden and untitled until the renderer exists: an OpenGL renderer makes SDL destroy and recreate the X window,
            // so the window that appears (and that tools find by its title) is the one that stays.
            window._window = SdlNative.CreateWindow(
                "", SdlNative.WindowPositionUndefined, SdlNative.WindowPositionUndefined, width, height, SdlNative.WindowResizable | SdlNative.WindowHidden);
            if (window._window == 0)
            {
                throw Failure("cannot open a window", alternative);
            }

            // Index -1, no flags: SDL picks the best renderer it has (a GPU, Mesa's llvmpipe, or its software renderer);
            // no vsync, so presenting never waits for the screen and a frame is shown as soon as it is drawn.
            window._renderer = SdlNative.CreateRenderer(window._window, -1, 0);
            if (window._renderer == 0)
            {
                throw Failure("cannot draw in the window", alternative);
            }

            SdlNative.SetWindowTitle(window._window, title);
            SdlNative.ShowWindow(window._window);
            SdlRendererInfo info;
            window.RendererName = SdlNative.GetRendererInfo(window._renderer, &info) == 0 && info.Name != 0
                ? Marshal.PtrToStringUTF8(info.Name) ?? "unknown"
                : "unknown";
            window.WakeEventType = SdlNative.RegisterEvents(1);
            return window;
        }
        catch
        {
            window.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sets the window to the picture's size, scaled down (keeping its shape) to 90% of the usable screen if larger, and
    /// places it on the screen: centred, then cascaded by its slot (<see cref="WindowSlots"/>) so several windows do not
    /// cover each other, never past the screen's edges.
    /// </summary>
    public void SizeToPicture(int width, int height)
    {
        SdlRect bounds = default;
        int display = SdlNative.GetWindowDisplayIndex(_window);
        bool known = display >= 0 && SdlNative.GetDisplayUsableBounds(display, &bounds) == 0 && bounds.W > 0 && bounds.H > 0;
        if (known && (width > bounds.W * 9 / 10 || height > bounds.H * 9 / 10))
        {
            PixelRect fit = Letterbox.Fit(width, height, bounds.W * 9 / 10, bounds.H * 9 / 10);
            (width, height) = (fit.Width, fit.Height);
        }

        // Moved first, then grown: in between, the smaller old size at the new place is on screen too (the other way
        // round, the new size at the old, centred place can run off the edge for a moment).
        if (known)
        {
            (int x, int y) = Placement(new PixelRect(bounds.X, bounds.Y, bounds.W, bounds.H), width, height, _slots.Slot);
            SdlNative.SetWindowPosition(_window, x, y);
        }

        SdlNative.SetWindowSize(_window, width, height);
    }

    /// <summary>Where a window of this size goes on <paramref name="screen"/>: centred, moved by its cascade slot, kept inside.</summary>
    internal static (int X, int Y) Placement(PixelRect screen, int width, int height, int slot)
    {
        int offset = slot * WindowSlots.Step;
        int x = screen.X + ((screen.Width - width) / 2) + offset;
        int y = screen.Y + ((screen.Height - height) / 2) + offset;
        return (Math.Clamp(x, screen.X, Math.Max(screen.X, screen.X + screen.Width - width)),
            Math.Clamp(y, screen.Y, Math.Max(screen.Y, screen.Y + screen.Height - height)));
    }

    /// <summary>Fullscreen at the desktop's resolution, or back to the window (the f key, as in ffplay).</summary>
    public void ToggleFullscreen()
    {
        bool fullscreen = (SdlNative.GetWindowFlags(_window) & SdlNative.WindowFullscreenDesktop) == SdlNative.WindowFullscreenDesktop;
        SdlNative.SetWindowFullscreen(_window, fullscreen ? 0 : SdlNative.WindowFullscreenDesktop);
    }

    /// <summary>Copies a BGR24 picture into the window's picture texture (made anew when the size changes); false with SDL's error.</summary>
    public bool Upload(VideoFrame picture, out bool textureCreated, out string? error)
    {
        _picture ??= CreateTexture();
        return _picture.UploadPicture(picture, out textureCreated, out error);
    }

    /// <summary>A new, empty texture of this window's renderer; the caller disposes it before the window.</summary>
    public SdlTexture CreateTexture() => new(_renderer);

    /// <summary>Output size in pixels (may differ from the window size on high-DPI screens).</summary>
    public (int Width, int Height) OutputSize()
    {
        int width, height;
        return SdlNative.GetRendererOutputSize(_renderer, &width, &height) == 0 ? (width, height) : (0, 0);
    }

    /// <summary>
    /// Clears to black, draws the picture into <paramref name="pictureRect"/>, then the overlay: translucent dark boxes and
    /// white text rectangles. Returns SDL's error, or null. Does not present.
    /// </summary>
    public string? Draw(PixelRect pictureRect, List<SdlRect> boxes, List<SdlRect> text)
    {
        bool ok = SdlNative.SetRenderDrawBlendMode(_renderer, 0) == 0
            && SdlNative.SetRenderDrawColor(_renderer, 0, 0, 0, 255) == 0
            && SdlNative.RenderClear(_renderer) == 0;
        if (ok && _picture is { HasContent: true } picture && !pictureRect.IsEmpty)
        {
            ok = Copy(picture, pictureRect);
        }

        if (ok && boxes.Count > 0)
        {
            ok = SdlNative.SetRenderDrawBlendMode(_renderer, SdlNative.BlendModeBlend) == 0
                && SdlNative.SetRenderDrawColor(_renderer, 0, 0, 0, 170) == 0
                && FillRects(boxes);
        }

        if (ok && text.Count > 0)
        {
            ok = SdlNative.SetRenderDrawColor(_renderer, 255, 255, 255, 255) == 0 && FillRects(text);
        }

        return ok ? null : SdlNative.GetError();
    }

    /// <summary>Fills the whole output with one opaque colour; false on failure (SDL's error in <see cref="SdlNative.GetError"/>).</summary>
    public bool Clear(byte r, byte g, byte b) =>
        SdlNative.SetRenderDrawBlendMode(_renderer, 0) == 0
        && SdlNative.SetRenderDrawColor(_renderer, r, g, b, 255) == 0
        && SdlNative.RenderClear(_renderer) == 0;

    /// <summary>Fills a rectangle with one colour, blended when <paramref name="a"/> is below 255; false on failure.</summary>
    public bool Fill(PixelRect rect, byte r, byte g, byte b, byte a = 255)
    {
        var destination = new SdlRect(rect.X, rect.Y, rect.Width, rect.Height);
        return SdlNative.SetRenderDrawBlendMode(_renderer, a == 255 ? 0 : SdlNative.BlendModeBlend) == 0
            && SdlNative.SetRenderDrawColor(_renderer, r, g, b, a) == 0
            && SdlNative.RenderFillRect(_renderer, &destination) == 0;
    }

    /// <summary>Draws a texture scaled into <paramref name="rect"/> (nothing when it has no content); false on failure.</summary>
    public bool Copy(SdlTexture texture, PixelRect rect)
    {
        if (!texture.HasContent || rect.IsEmpty)
        {
            return true;
        }

        var destination = new SdlRect(rect.X, rect.Y, rect.Width, rect.Height);
        return SdlNative.RenderCopy(_renderer, texture.Handle, null, &destination) == 0;
    }

    /// <summary>Draws the part <paramref name="source"/> of a texture into <paramref name="rect"/>; false on failure.</summary>
    public bool Copy(SdlTexture texture, PixelRect source, PixelRect rect)
    {
        if (!texture.HasContent || rect.IsEmpty || source.IsEmpty)
        {
            return true;
        }

        var from = new SdlRect(source.X, source.Y, source.Width, source.Height);
        var destination = new SdlRect(rect.X, rect.Y, rect.Width, rect.Height);
        return SdlNative.RenderCopy(_renderer, texture.Handle, &from, &destination) == 0;
    }

    public void Present() => SdlNative.RenderPresent(_renderer);

    public void Dispose()
    {
        _slots.Dispose();
        _picture?.Dispose();
        _picture = null;
        if (_renderer != 0)
        {
            SdlNative.DestroyRenderer(_renderer);
            _renderer = 0;
        }

        if (_window != 0)
        {
            SdlNative.DestroyWindow(_window);
            _window = 0;
        }

        if (_initialized)
        {
            SdlNative.Quit();
            _initialized = false;
        }
    }

    private bool FillRects(List<SdlRect> rects)
    {
        Span<SdlRect> span = CollectionsMarshal.AsSpan(rects);
        fixed (SdlRect* first = span)
        {
            return SdlNative.RenderFillRects(_renderer, first, span.Length) == 0;
        }
    }

    /// <summary>"x11", "wayland" or "x11,wayland" (SDL2's own preference order), from DISPLAY and WAYLAND_DISPLAY.</summary>
    internal static string DesktopDrivers(Func<string, string?> getVariable)
    {
        bool x11 = !string.IsNullOrWhiteSpace(getVariable("DISPLAY"));
        bool wayland = !string.IsNullOrWhiteSpace(getVariable("WAYLAND_DISPLAY"));
        return x11 && wayland ? "x11,wayland" : wayland ? "wayland" : "x11";
    }

    private static UserFacingException Failure(string what, string alternative)
    {
        string display = Environment.GetEnvironmentVariable("DISPLAY") is { Length: > 0 } x ? $"DISPLAY={x}"
            : Environment.GetEnvironmentVariable("WAYLAND_DISPLAY") is { Length: > 0 } w ? $"WAYLAND_DISPLAY={w}"
            : "no display";
        return new UserFacingException($"{what} ({display}): {SdlNative.GetError()}; check that the display is running and that this user may use it, or {alternative}.");
    }
}
