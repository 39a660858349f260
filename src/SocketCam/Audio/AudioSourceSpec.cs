using SocketCam.Protocol;

namespace SocketCam.Audio;

/// <summary>What `--audio` names (docs/AUDIO.md).</summary>
internal enum AudioSourceKind
{
    /// <summary>No audio track.</summary>
    None,

    /// <summary>A microphone: PulseAudio's default source when PulseAudio runs, else ALSA's (or the ALSA device given).</summary>
    Microphone,

    /// <summary>An ffmpeg filter graph (`lavfi:sine=frequency=440`): test tones and noise.</summary>
    Lavfi,

    /// <summary>A file's first audio stream, played at its own pace.</summary>
    File,

    /// <summary>`sync`: a beep at the start of every second of the clock (with `--source sync`'s flashes: a lip-sync test).</summary>
    Sync,
}

/// <summary>
/// An audio source as `--audio` gives it: `none`, `auto` (the first microphone, else none), `mic`, `mic:DEVICE` (an ALSA
/// device such as hw:1), `pulse:SOURCE`, `lavfi:GRAPH`, `sync`, `file:PATH` or a path that exists.
/// </summary>
internal sealed record AudioSourceSpec(AudioSourceKind Kind, string Argument, bool Pulse = false)
{
    public static readonly AudioSourceSpec None = new(AudioSourceKind.None, "");

    /// <summary>What the track says it is (§4.4 source): a microphone, a file, or a synthetic test tone.</summary>
    public TrackSource TrackSource => Kind switch
    {
        AudioSourceKind.Microphone => TrackSource.Microphone,
        AudioSourceKind.Lavfi or AudioSourceKind.Sync => TrackSource.Synthetic,
        _ => TrackSource.File,
    };

    /// <summary>Parses `--audio`; `auto` becomes the first microphone, or <see cref="None"/> when there is none.</summary>
    public static AudioSourceSpec Parse(string text, Func<string, bool>? fileExists = null)
    {
        fileExists ??= File.Exists;
        string t = text.Trim();
        int colon = t.IndexOf(':', StringComparison.Ordinal);
        string scheme = (colon < 0 ? t : t[..colon]).ToLowerInvariant();
        string rest = colon < 0 ? "" : t[(colon + 1)..];
        return scheme switch
        {
            "none" or "off" when rest.Length == 0 => None,
            "auto" when rest.Length == 0 => Microphones.Default() is { } mic ? mic : None,
            "mic" or "microphone" => rest.Length == 0
                ? Microphones.Default() ?? throw new ArgumentException("--audio mic: no microphone found (no PulseAudio, no ALSA capture device): plug one in, or use --audio lavfi:sine=frequency=440 for a test tone.")
                : new AudioSourceSpec(AudioSourceKind.Microphone, rest),
            "pulse" => new AudioSourceSpec(AudioSourceKind.Microphone, rest.Length == 0 ? "default" : rest, Pulse: true),
            "lavfi" when rest.Length > 0 => new AudioSourceSpec(AudioSourceKind.Lavfi, rest),
            "sync" when rest.Length == 0 => new AudioSourceSpec(AudioSourceKind.Sync, ""),
            "file" when rest.Length > 0 => fileExists(rest) ? new AudioSourceSpec(AudioSourceKind.File, rest) : throw new ArgumentException($"--audio file:{rest}: no such file."),
            _ when fileExists(t) => new AudioSourceSpec(AudioSourceKind.File, t),
            _ => throw new ArgumentException($"--audio '{text}' is not an audio source: use none, auto, mic, mic:hw:1, pulse:SOURCE, lavfi:sine=frequency=440, sync or file:PATH."),
        };
    }

    public override string ToString() => Kind switch
    {
        AudioSourceKind.None => "no audio",
        AudioSourceKind.Microphone => Pulse ? $"microphone (PulseAudio {Argument})" : $"microphone (ALSA {Argument})",
        AudioSourceKind.Lavfi => $"ffmpeg filter {Argument}",
        AudioSourceKind.Sync => "sync test (a beep each second)",
        _ => $"audio of {Path.GetFileName(Argument)}",
    };
}

/// <summary>The machine's microphones: PulseAudio's sources when it runs, else ALSA's capture devices (`devices` lists them).</summary>
internal static class Microphones
{
    /// <summary>The microphone `--audio auto` and `mic` use, or null when the machine has none.</summary>
    public static AudioSourceSpec? Default()
    {
        if (PulseRunning())
        {
            return new AudioSourceSpec(AudioSourceKind.Microphone, "default", Pulse: true);
        }

        return AlsaCaptureDevices().FirstOrDefault() is { } device ? new AudioSourceSpec(AudioSourceKind.Microphone, device) : null;
    }

    /// <summary>ALSA capture devices as ffmpeg names them (`hw:CARD,DEVICE`), from /dev/snd's capture nodes (pcmC1D0c).</summary>
    public static IReadOnlyList<string> AlsaCaptureDevices(string directory = "/dev/snd")
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }

        var found = new List<string>();
        foreach (string path in Directory.EnumerateFiles(directory, "pcmC*D*c").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(path); // pcmC1D0c
            int d = name.IndexOf('D', 4);
            if (d > 4 && int.TryParse(name.AsSpan(4, d - 4), out int card) && int.TryParse(name.AsSpan(d + 1, name.Length - d - 2), out int device))
            {
                found.Add($"hw:{card},{device}");
            }
        }

        return found;
    }

    /// <summary>True when a PulseAudio (or PipeWire-Pulse) server's socket is there.</summary>
    public static bool PulseRunning()
    {
        string? server = Environment.GetEnvironmentVariable("PULSE_SERVER");
        if (!string.IsNullOrEmpty(server))
        {
            return true;
        }

        string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        return runtime is not null && File.Exists(Path.Combine(runtime, "pulse", "native"));
    }
}
