using System.Runtime.InteropServices;
using SocketCam.Diagnostics;

namespace SocketCam.Display.Sdl;

/// <summary>
/// The few SDL2 functions a video window needs (libSDL2-2.0.so.0, Debian's libsdl2-2.0-0). SDL is not thread-safe:
/// everything here runs on the window's render thread, except <see cref="PushEvent"/>, which SDL allows from any thread.
/// </summary>
internal static unsafe partial class SdlNative
{
    public const string LibraryName = "libSDL2-2.0.so.0";

    public const uint InitVideo = 0x20;

    public const uint WindowHidden = 0x8;
    public const uint WindowResizable = 0x20;
    public const uint WindowMinimized = 0x40;
    public const int WindowPositionUndefined = 0x1FFF0000;

    /// <summary>SDL_PIXELFORMAT_BGR24: bytes B, G, R, what libjpeg-turbo decodes to for the whole engine (no conversion on our side).</summary>
    public const uint PixelFormatBgr24 = 0x17401803;

    /// <summary>SDL_PIXELFORMAT_ABGR8888, which on a little-endian machine is bytes R, G, B, A (SDL_PIXELFORMAT_RGBA32): Skia's RGBA8888.</summary>
    public const uint PixelFormatRgba32 = 0x16762004;

    public const int TextureAccessStatic = 0;
    public const int TextureAccessStreaming = 1;
    public const int BlendModeBlend = 1;

    public const uint EventQuit = 0x100;
    public const uint EventWindow = 0x200;
    public const uint EventKeyDown = 0x300;

    public const byte WindowEventShown = 1;
    public const byte WindowEventHidden = 2;
    public const byte WindowEventExposed = 3;
    public const byte WindowEventResized = 5;
    public const byte WindowEventSizeChanged = 6;
    public const byte WindowEventMinimized = 7;
    public const byte WindowEventMaximized = 8;
    public const byte WindowEventRestored = 9;
    public const byte WindowEventClose = 14;

    public const int KeyReturn = '\r';
    public const int KeyEscape = 27;
    public const int KeyQ = 'q';
    public const int KeyF = 'f';

    /// <summary>SDL_WINDOW_FULLSCREEN_DESKTOP: fullscreen at the desktop's resolution (no mode switch), what ffplay's f does.</summary>
    public const uint WindowFullscreenDesktop = 0x1001;
    public const int KeyKeypadEnter = 0x40000058;

    public const string HintNoSignalHandlers = "SDL_NO_SIGNAL_HANDLERS";
    public const string HintRenderScaleQuality = "SDL_RENDER_SCALE_QUALITY";
    public const string HintBypassCompositor = "SDL_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR";
    public const string HintVideoDriver = "SDL_VIDEODRIVER";

    [LibraryImport(LibraryName, EntryPoint = "SDL_SetHint", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetHint(string name, string value);

    [LibraryImport(LibraryName, EntryPoint = "SDL_Init")]
    public static partial int Init(uint flags);

    [LibraryImport(LibraryName, EntryPoint = "SDL_Quit")]
    public static partial void Quit();

    [LibraryImport(LibraryName, EntryPoint = "SDL_GetError")]
    private static partial nint GetErrorNative();

    [LibraryImport(LibraryName, EntryPoint = "SDL_CreateWindow", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint CreateWindow(string title, int x, int y, int width, int height, uint flags);

    [LibraryImport(LibraryName, EntryPoint = "SDL_SetWindowTitle", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void SetWindowTitle(nint window, string title);

    [LibraryImport(LibraryName, EntryPoint = "SDL_ShowWindow")]
    public static partial void ShowWindow(nint window);

    [LibraryImport(LibraryName, EntryPoint = "SDL_DestroyWindow")]
    public static partial void DestroyWindow(nint window);

    [LibraryImport(LibraryName, EntryPoint = "SDL_SetWindowPosition")]
    public static partial void SetWindowPosition(nint window, int x, int y);

    [LibraryImport(LibraryName, EntryPoint = "SDL_SetWindowFullscreen")]
    public static partial int SetWindowFullscreen(nint window, uint flags);

    [LibraryImport(LibraryName, EntryPoint = "SDL_SetWindowSize")]
    public static partial void SetWindowSize(nint window, int width, int height);

    [LibraryImport(LibraryName, EntryPoint = "SDL_GetWindowFlags")]
    public static partial uint GetWindowFlags(nint window);

    [LibraryImport(LibraryName, EntryPoint = "SDL_GetWindowDisplayIndex")]
    public static partial int GetWindowDisplayIndex(nint window);

    [LibraryImport(LibraryName, EntryPoint = "SDL_GetDisplayUsableBounds")]
    public static partial int GetDisplayUsableBounds(int displayIndex, SdlRect* rect);

    [LibraryImport(LibraryName, EntryPoint = "SDL_CreateRenderer")]
    public static partial nint CreateRenderer(nint window, int index, uint flags);

    [LibraryImport(LibraryName, EntryPoint = "SDL_DestroyRenderer")]
    public static partial void DestroyRenderer(nint renderer);

    [LibraryImport(LibraryName, EntryPoint = "SDL_GetRendererInfo")]
    public static partial int GetRendererInfo(nint renderer, SdlRendererInfo* info);

    [LibraryImport(LibraryName, EntryPoint = "SDL_GetRendererOutputSize")]
    public static partial int GetRendererOutputSize(nint renderer, int* width, int* height);

    [LibraryImport(LibraryName, EntryPoint = "SDL_CreateTexture")]
    public static partial nint CreateTexture(nint renderer, uint format, int access, int width, int height);

    [LibraryImport(LibraryName, EntryPoint = "SDL_DestroyTexture")]
    public static partial void DestroyTexture(nint texture);

    [LibraryImport(LibraryName, EntryPoint = "SDL_UpdateTexture")]
    public static partial int UpdateTexture(nint texture, SdlRect* rect, byte* pixels, int pitch);

    [LibraryImport(LibraryName, EntryPoint = "SDL_SetTextureBlendMode")]
    public static partial int SetTextureBlendMode(nint texture, int blendMode);

    [LibraryImport(LibraryName, EntryPoint = "SDL_SetRenderDrawColor")]
    public static partial int SetRenderDrawColor(nint renderer, byte r, byte g, byte b, byte a);

    [LibraryImport(LibraryName, EntryPoint = "SDL_SetRenderDrawBlendMode")]
    public static partial int SetRenderDrawBlendMode(nint renderer, int blendMode);

    [LibraryImport(LibraryName, EntryPoint = "SDL_RenderClear")]
    public static partial int RenderClear(nint renderer);

    [LibraryImport(LibraryName, EntryPoint = "SDL_RenderCopy")]
    public static partial int RenderCopy(nint renderer, nint texture, SdlRect* source, SdlRect* destination);

    [LibraryImport(LibraryName, EntryPoint = "SDL_RenderFillRect")]
    public static partial int RenderFillRect(nint renderer, SdlRect* rect);

    [LibraryImport(LibraryName, EntryPoint = "SDL_RenderFillRects")]
    public static partial int RenderFillRects(nint renderer, SdlRect* rects, int count);

    [LibraryImport(LibraryName, EntryPoint = "SDL_RenderPresent")]
    public static partial void RenderPresent(nint renderer);

    [LibraryImport(LibraryName, EntryPoint = "SDL_WaitEventTimeout")]
    public static partial int WaitEventTimeout(SdlEvent* sdlEvent, int timeoutMs);

    [LibraryImport(LibraryName, EntryPoint = "SDL_PollEvent")]
    public static partial int PollEvent(SdlEvent* sdlEvent);

    /// <summary>Thread-safe in SDL: wakes a render thread blocked in <see cref="WaitEventTimeout"/>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "SDL_PushEvent")]
    public static partial int PushEvent(SdlEvent* sdlEvent);

    [LibraryImport(LibraryName, EntryPoint = "SDL_RegisterEvents")]
    public static partial uint RegisterEvents(int count);

    /// <summary>SDL's message for the last failure on this thread.</summary>
    public static string GetError()
    {
        nint text = GetErrorNative();
        string? message = text == 0 ? null : Marshal.PtrToStringUTF8(text);
        return string.IsNullOrWhiteSpace(message) ? "unknown SDL error" : message;
    }
}

[StructLayout(LayoutKind.Sequential)]
internal struct SdlRect
{
    public int X;
    public int Y;
    public int W;
    public int H;

    public SdlRect(int x, int y, int w, int h)
    {
        X = x;
        Y = y;
        W = w;
        H = h;
    }
}

/// <summary>SDL_RendererInfo: only the name is read.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SdlRendererInfo
{
    public nint Name;
    public uint Flags;
    public uint TextureFormatCount;
    public fixed uint TextureFormats[16];
    public int MaxTextureWidth;
    public int MaxTextureHeight;
}

/// <summary>
/// SDL_Event (a 56-byte union). Only the fields read here are mapped: the type; for window events the event id and
/// data1/data2; for key events the key code (SDL_KeyboardEvent.keysym.sym).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 56)]
internal struct SdlEvent
{
    [FieldOffset(0)]
    public uint Type;

    [FieldOffset(12)]
    public byte WindowEvent;

    [FieldOffset(16)]
    public int Data1;

    [FieldOffset(20)]
    public int Data2;

    [FieldOffset(20)]
    public int KeyCode;
}

/// <summary>Checks once that SDL2 can be loaded, so a missing package gives one clear message instead of DllNotFoundException.</summary>
internal static class SdlLibrary
{
    public const string MissingMessage =
        "SDL2 was not found: install it (sudo apt-get install libsdl2-2.0-0), or do without a window (view --snapshot FILE.jpg saves a frame).";

    private static readonly string[] RequiredExports =
    [
        "SDL_SetHint", "SDL_Init", "SDL_Quit", "SDL_GetError", "SDL_CreateWindow", "SDL_SetWindowTitle", "SDL_ShowWindow", "SDL_DestroyWindow", "SDL_SetWindowSize", "SDL_SetWindowPosition", "SDL_SetWindowFullscreen",
        "SDL_GetWindowFlags", "SDL_GetWindowDisplayIndex", "SDL_GetDisplayUsableBounds", "SDL_CreateRenderer", "SDL_DestroyRenderer",
        "SDL_GetRendererInfo", "SDL_GetRendererOutputSize", "SDL_CreateTexture", "SDL_DestroyTexture", "SDL_UpdateTexture", "SDL_SetTextureBlendMode",
        "SDL_SetRenderDrawColor", "SDL_SetRenderDrawBlendMode", "SDL_RenderClear", "SDL_RenderCopy", "SDL_RenderFillRect",
        "SDL_RenderFillRects", "SDL_RenderPresent", "SDL_WaitEventTimeout", "SDL_PollEvent", "SDL_PushEvent", "SDL_RegisterEvents",
    ];

    /// <summary>
    /// For tests only: the environment variable that replaces <see cref="SdlNative.LibraryName"/> (a file name or path), so a
    /// test can run the real CLI as if SDL2 were missing (the package cannot be removed under a running test suite).
    /// </summary>
    public const string OverrideVariable = "SOCKETCAM_SDL_LIBRARY";

    private static readonly Lazy<bool> Available = new(() =>
    {
        string name = LibraryName;
        if (name != SdlNative.LibraryName)
        {
            // The P/Invoke stubs load the same library as the check.
            NativeLibrary.SetDllImportResolver(typeof(SdlNative).Assembly, (requested, assembly, searchPath) =>
                requested == SdlNative.LibraryName ? NativeLibrary.Load(name, assembly, searchPath) : 0);
        }

        return IsLoadable(name);
    });

    /// <summary><see cref="SdlNative.LibraryName"/>, or what <see cref="OverrideVariable"/> says (tests only).</summary>
    public static string LibraryName =>
        Environment.GetEnvironmentVariable(OverrideVariable) is { Length: > 0 } name ? name : SdlNative.LibraryName;

    /// <summary>Throws <see cref="NativeDependencyException"/> when libSDL2-2.0.so.0 cannot be loaded. Call it before any SDL call.</summary>
    public static void EnsureAvailable()
    {
        if (!Available.Value)
        {
            throw new NativeDependencyException(MissingMessage);
        }
    }

    /// <summary>
    /// Whether <paramref name="libraryName"/> loads the way the P/Invoke stubs will load it and has every export they call
    /// (an old or unrelated library of that name fails here, not later with EntryPointNotFoundException).
    /// </summary>
    internal static bool IsLoadable(string libraryName) =>
        NativeLibrary.TryLoad(libraryName, typeof(SdlNative).Assembly, null, out nint library)
        && Array.TrueForAll(RequiredExports, name => NativeLibrary.TryGetExport(library, name, out _));
}
