using System.Diagnostics;
using SocketCam.Diagnostics;

namespace SocketCam.Audio;

/// <summary>Where played audio goes: a WAV file (`--audio-out`), a sound device (Display/SdlAudioSink).</summary>
internal interface IAudioSink : IDisposable
{
    /// <summary>Takes one tick of interleaved s16 samples at 48 kHz.</summary>
    void Write(ReadOnlySpan<short> pcm);

    /// <summary>Audio handed over but not yet heard (a device's queue), in µs: the player keeps it near one tick.</summary>
    long QueuedMicros { get; }
}

/// <summary>A WAV file as a sink: nothing is queued, what is written is "heard".</summary>
internal sealed class WavSink(string path, int channels) : IAudioSink
{
    private readonly WavWriter _wav = new(path, AudioFormat.OpusRate, channels);

    public long QueuedMicros => 0;

    public long Samples => _wav.Samples;

    public void Write(ReadOnlySpan<short> pcm) => _wav.Write(pcm);

    public void Dispose() => _wav.Dispose();
}

/// <summary>
/// The playout clock: every <see cref="TickMicros"/> (10 ms) it pulls the mix and writes it to the sink, paced by absolute
/// deadlines on the monotonic clock (a late tick catches up instead of drifting). It measures mouth-to-ear latency as it
/// plays: the sink's queue plus now minus the capture time (hub clock moved to ours) of the sound leaving.
/// </summary>
internal sealed class AudioPlayer
{
    public const int TickMicros = 10_000;

    private readonly AudioMixer _mixer;
    private readonly IAudioSink _sink;

    public AudioPlayer(AudioMixer mixer, IAudioSink sink)
    {
        _mixer = mixer;
        _sink = sink;
    }

    /// <summary>Capture-to-output latency of what played, in ms.</summary>
    public LatencyRecorder Latency { get; } = new();

    /// <summary>Where the beeps of what plays are timed (`--audio sync`), with the flashes the video shows; null: not measured.</summary>
    public LipSyncMeter? LipSync { get; set; }

    /// <summary>
    /// Capture to output of the sound playing now (µs; the last measured, kept through pauses in speech), 0 before any:
    /// what pictures are held back by so that they are shown with their sound.
    /// </summary>
    public long DelayMicros => Volatile.Read(ref _delayMicros);

    private long _delayMicros;

    /// <summary>Time spent pulling from the mixer (jitter buffers, Opus decoding, mixing), in Stopwatch ticks.</summary>
    public long PullTicks { get; private set; }

    /// <summary>Ticks written.</summary>
    public long Ticks { get; private set; }

    /// <summary>Plays until cancelled.</summary>
    public async Task RunAsync(Func<long> playheadCaptureMicros, CancellationToken cancellationToken)
    {
        var pcm = new short[AudioFormat.OpusRate / (1_000_000 / TickMicros) * _mixer.Channels];
        long start = Stopwatch.GetTimestamp();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                long due = start + (Stopwatch.Frequency * (Ticks + 1) * TickMicros / 1_000_000);
                TimeSpan wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }

                if (_sink.QueuedMicros > 6 * TickMicros)
                {
                    Ticks++; // the device plays slower than our clock: skip a tick rather than let delay build up
                    continue;
                }

                long pullStart = Stopwatch.GetTimestamp();
                bool sounding = _mixer.Pull(pcm);
                PullTicks += Stopwatch.GetTimestamp() - pullStart;
                // Read after the pull (before it, a talk spurt's first block would be timed by the sound before the pause):
                // the playhead has moved on by this block, whose first sample was captured one tick earlier.
                long playhead = playheadCaptureMicros() - TickMicros;
                long playsAt = Clock.NowMicros() + _sink.QueuedMicros;
                _sink.Write(pcm);
                LipSync?.OnSound(pcm, _mixer.Channels, AudioFormat.OpusRate, playsAt);
                if (sounding && playhead > TickMicros)
                {
                    long delay = Clock.NowMicros() - playhead + _sink.QueuedMicros;
                    Latency.Record(delay / 1000.0);
                    Volatile.Write(ref _delayMicros, delay);
                }

                Ticks++;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}
