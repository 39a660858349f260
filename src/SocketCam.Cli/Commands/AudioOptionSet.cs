using System.CommandLine;
using Microsoft.Extensions.Logging;
using SocketCam.Audio;

namespace SocketCam.Cli.Commands;

/// <summary>
/// The sending side's audio (--audio, --audio-bitrate, --audio-packet, --audio-channels), spelled once for publish and
/// call and turned into an <see cref="AudioTrackEncoder"/> in one place (docs/AUDIO.md).
/// </summary>
internal sealed class AudioOptionSet
{
    public AudioOptionSet(string defaultSpec)
    {
        Audio = new Option<string>("--audio")
        {
            HelpName = "SOURCE",
            Description = $"Sound to send: auto (a microphone if any), none, mic[:hw:1], lavfi:GRAPH, file:PATH, sync; see docs/AUDIO.md (default: {defaultSpec})",
            DefaultValueFactory = _ => defaultSpec,
        };
    }

    public Option<string> Audio { get; }

    public Option<int> Bitrate { get; } = new("--audio-bitrate")
    {
        HelpName = "BPS",
        Description = "Opus bitrate in bits per second (default: 32000)",
        DefaultValueFactory = _ => 32_000,
    };

    public Option<int> Packet { get; } = new("--audio-packet")
    {
        HelpName = "MS",
        Description = "Opus packet length: 20 (default) or 10 ms",
        DefaultValueFactory = _ => 20,
    };

    public Option<int> Channels { get; } = new("--audio-channels")
    {
        HelpName = "N",
        Description = "1 (default, voice) or 2",
        DefaultValueFactory = _ => 1,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Audio);
        command.Options.Add(Bitrate);
        command.Options.Add(Packet);
        command.Options.Add(Channels);
    }

    /// <summary>The source --audio names (auto resolved), without opening it.</summary>
    public AudioSourceSpec Spec(ParseResult r) => AudioSourceSpec.Parse(r.GetValue(Audio)!);

    /// <summary>
    /// What --audio means with these video sources: `auto` with a video file sends the file's own sound when it has one
    /// (a clip plays with its soundtrack), else the first microphone, else nothing.
    /// </summary>
    public async Task<AudioSourceSpec> SpecAsync(ParseResult r, IEnumerable<string> videoSpecs, CancellationToken cancellationToken)
    {
        if (r.GetValue(Audio) == "auto")
        {
            foreach (string video in videoSpecs)
            {
                if (TryParseSource(video) is { Kind: Sources.SourceKind.File } file && await AudioProbe.HasAudioAsync(file.Argument, cancellationToken))
                {
                    return new AudioSourceSpec(AudioSourceKind.File, file.Argument);
                }
            }
        }

        return Spec(r);
    }

    /// <summary>The encoder of <paramref name="spec"/>, or null for none; options out of range are one line.</summary>
    public AudioTrackEncoder? Open(ParseResult r, AudioSourceSpec spec, ILoggerFactory loggers)
    {
        if (spec.Kind == AudioSourceKind.None)
        {
            return null;
        }

        var options = new AudioOptions { Bitrate = r.GetValue(Bitrate), PacketMilliseconds = r.GetValue(Packet), Channels = r.GetValue(Channels) }.Validated();
        return new AudioTrackEncoder(spec, options, loggers.CreateLogger("SocketCam.Audio"));
    }

    private static Sources.SourceSpec? TryParseSource(string text)
    {
        try
        {
            return Sources.SourceSpec.Parse(text);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
