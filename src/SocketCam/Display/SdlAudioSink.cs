using SocketCam.Audio;
using SocketCam.Diagnostics;
using SocketCam.Display.Sdl;

namespace SocketCam.Display;

/// <summary>
/// The default sound device through SDL2 (`--audio-out speaker`): PCM queued to SDL, which plays it on its own thread.
/// SDL picks PulseAudio, PipeWire or ALSA; SDL_AUDIODRIVER chooses (the tests use its `disk` driver, which writes what
/// would play to SDL_DISKAUDIOFILE). No device is one line saying what to do instead.
/// </summary>
internal sealed unsafe class SdlAudioSink : IAudioSink
{
    private readonly uint _device;
    private readonly int _bytesPerSecond;
    private bool _disposed;

    private SdlAudioSink(uint device, int sampleRate, int channels)
    {
        _device = device;
        _bytesPerSecond = sampleRate * channels * 2;
    }

    public long QueuedMicros => SdlAudioNative.GetQueuedAudioSize(_device) * 1_000_000L / _bytesPerSecond;

    public static SdlAudioSink Open(int sampleRate, int channels)
    {
        SdlLibrary.EnsureAvailable();
        if (SdlAudioNative.InitSubSystem(SdlAudioNative.InitAudio) != 0)
        {
            throw new UserFacingException($"No sound output here ({SdlNative.GetError()}): use --audio-out FILE.wav to keep what would play.");
        }

        var desired = new SdlAudioSpec { Freq = sampleRate, Format = SdlAudioNative.FormatS16Lsb, Channels = (byte)channels, Samples = 480 };
        SdlAudioSpec obtained;
        uint device = SdlAudioNative.OpenAudioDevice(null, 0, &desired, &obtained, 0);
        if (device == 0)
        {
            string error = SdlNative.GetError();
            SdlAudioNative.QuitSubSystem(SdlAudioNative.InitAudio);
            throw new UserFacingException($"No sound device could be opened ({error}): use --audio-out FILE.wav to keep what would play.");
        }

        SdlAudioNative.PauseAudioDevice(device, 0);
        return new SdlAudioSink(device, sampleRate, channels);
    }

    public void Write(ReadOnlySpan<short> pcm)
    {
        fixed (short* p = pcm)
        {
            _ = SdlAudioNative.QueueAudio(_device, p, (uint)(pcm.Length * 2));
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        SdlAudioNative.CloseAudioDevice(_device);
        SdlAudioNative.QuitSubSystem(SdlAudioNative.InitAudio);
    }
}
