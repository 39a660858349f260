using System.Runtime.InteropServices;

namespace SocketCam.Display.Sdl;

/// <summary>SDL2's audio output in queue mode (no callback thread into .NET): open a device, queue PCM, ask how much waits.</summary>
internal static unsafe partial class SdlAudioNative
{
    public const uint InitAudio = 0x10;
    public const ushort FormatS16Lsb = 0x8010;

    [LibraryImport(SdlNative.LibraryName, EntryPoint = "SDL_InitSubSystem")]
    public static partial int InitSubSystem(uint flags);

    [LibraryImport(SdlNative.LibraryName, EntryPoint = "SDL_QuitSubSystem")]
    public static partial void QuitSubSystem(uint flags);

    [LibraryImport(SdlNative.LibraryName, EntryPoint = "SDL_OpenAudioDevice")]
    public static partial uint OpenAudioDevice(byte* device, int isCapture, SdlAudioSpec* desired, SdlAudioSpec* obtained, int allowedChanges);

    [LibraryImport(SdlNative.LibraryName, EntryPoint = "SDL_CloseAudioDevice")]
    public static partial void CloseAudioDevice(uint device);

    [LibraryImport(SdlNative.LibraryName, EntryPoint = "SDL_PauseAudioDevice")]
    public static partial void PauseAudioDevice(uint device, int pauseOn);

    [LibraryImport(SdlNative.LibraryName, EntryPoint = "SDL_QueueAudio")]
    public static partial int QueueAudio(uint device, void* data, uint length);

    [LibraryImport(SdlNative.LibraryName, EntryPoint = "SDL_GetQueuedAudioSize")]
    public static partial uint GetQueuedAudioSize(uint device);
}

/// <summary>SDL_AudioSpec (x64 layout).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SdlAudioSpec
{
    public int Freq;
    public ushort Format;
    public byte Channels;
    public byte Silence;
    public ushort Samples;
    public ushort Padding;
    public uint Size;
    public nint Callback;
    public nint UserData;
}
