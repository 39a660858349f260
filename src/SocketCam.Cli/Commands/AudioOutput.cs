using System.CommandLine;
using System.Globalization;
using SocketCam.Audio;
using SocketCam.Diagnostics;
using SocketCam.Display;

namespace SocketCam.Cli.Commands;

/// <summary>
/// Where `view` and `call` play what they hear (`--audio-out`): a .wav file (written as it plays: what a speaker would
/// have played, for scripts and tests) or `speaker` (the default sound device, through SDL2). One mixer, one player.
/// </summary>
internal sealed class AudioOutput : IAsyncDisposable
{
    private readonly IAudioSink _sink;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _playing;

    private AudioOutput(string target, IAudioSink sink, int channels)
    {
        Target = target;
        _sink = sink;
        Mixer = new AudioMixer(channels);
        Player = new AudioPlayer(Mixer, sink) { LipSync = LipSync };
        _playing = Player.RunAsync(Mixer.PlayheadMicros, _stop.Token);
    }

    public string Target { get; }

    public AudioMixer Mixer { get; }

    public AudioPlayer Player { get; }

    /// <summary>Beeps played and flashes shown, timed (a source made with `--source sync --audio sync`): lip sync on the content.</summary>
    public LipSyncMeter LipSync { get; } = new();

    public static Option<string?> Option(string what) => new("--audio-out")
    {
        HelpName = "FILE.wav|speaker",
        Description = $"Play {what} audio: into a WAV file, or on the default sound device (speaker)",
    };

    /// <summary>Starts playing into <paramref name="target"/>.</summary>
    public static AudioOutput Start(string target)
    {
        if (string.Equals(target, "speaker", StringComparison.OrdinalIgnoreCase))
        {
            return new AudioOutput(target, SdlAudioSink.Open(AudioFormat.OpusRate, 2), 2);
        }

        if (!target.EndsWith(".wav", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"--audio-out '{target}': give a FILE.wav or speaker.");
        }

        IAudioSink sink;
        try
        {
            sink = new WavSink(target, 1);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"--audio-out '{target}': {ViewCommand.CannotWrite(target, ex)}", ex);
        }

        return new AudioOutput(target, sink, 1);
    }

    /// <summary>
    /// One line: what played and how it went (packets lost and concealed by PLC, lost and rebuilt from the next packet's
    /// FEC). With the video's capture-to-screen latency (p50), the A/V skew too: audio
    /// minus video, positive when the sound comes after the picture (ITU-R BT.1359 accepts -45 to +125 ms).
    /// </summary>
    public string SummaryLine(double? videoLatencyMs = null)
    {
        var tracks = Mixer.Stats();
        long received = tracks.Sum(t => t.Stats.Received);
        long concealed = tracks.Sum(t => t.Stats.Concealed);
        long rebuilt = tracks.Sum(t => t.Stats.Recovered);
        long played = tracks.Sum(t => t.Stats.Decoded + t.Stats.Recovered + t.Stats.Concealed);
        var l = Player.Latency.Summarize();
        string buffer = tracks.Count == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $", jitter buffer {tracks.Max(t => t.Stats.TargetMs):0} ms");
        string latency = Player.Latency.Count > 0 ? string.Create(CultureInfo.InvariantCulture, $", latency p50 {l.P50:0} ms p99 {l.P99:0} ms") : "";
        if (Player.Latency.Count > 0 && videoLatencyMs is { } video)
        {
            latency += string.Create(CultureInfo.InvariantCulture, $", a/v skew {l.P50 - video:+0;-0;0} ms");
        }
        if (LipSync.Measure() is { } sync)
        {
            latency += string.Create(CultureInfo.InvariantCulture, $", lip sync {sync.MedianMs:+0;-0;0} ms (beep after flash, {sync.Pairs} pairs)");
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"audio: {received} packets from {tracks.Count} track(s), {Player.Ticks / 100.0:0.0} s played into {Target}, concealed {concealed} ({(played == 0 ? 0 : 100.0 * concealed / played):0.#}%), {rebuilt} rebuilt from FEC{buffer}{latency}");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _playing;
        _sink.Dispose();
        Mixer.Dispose();
        _stop.Dispose();
    }
}
