namespace SocketCam.Audio;

/// <summary>
/// `--audio sync`: silence with a 1 kHz beep during the first 100 ms of every second of this machine's clock, the
/// instants `--source sync` flashes. Made here, sample by sample from each sample's own capture time, so the beep's
/// first sample is captured exactly on the second whatever the packets' phase; released by an <see cref="AudioPacer"/>.
/// </summary>
internal sealed class SyncToneSource : IAudioSource
{
    /// <summary>How long each beep lasts (as each flash).</summary>
    public const long BeepMicros = 100_000;

    public const double BeepHz = 1000;

    private const double Amplitude = 0.5 * short.MaxValue;
    private readonly AudioFormat _format;
    private readonly AudioPacer _pacer;

    public SyncToneSource(AudioFormat format)
    {
        _format = format;
        _pacer = new AudioPacer(format.PacketMicros);
    }

    public AudioSourceSpec Spec { get; } = new(AudioSourceKind.Sync, "");

    public async ValueTask<long> ReadAsync(short[] pcm, CancellationToken cancellationToken)
    {
        long first = _pacer.NextCaptureMicros(Diagnostics.Clock.NowMicros());
        Fill(pcm, first);
        long capture = await _pacer.WaitAsync(cancellationToken);
        if (capture != first)
        {
            // The pacer restarted its schedule meanwhile (this reader was over 60 ms late): the samples must be the ones
            // of the time they are labelled with, or the beep would sit off the second.
            Fill(pcm, capture);
        }

        return capture;
    }

    /// <summary>The packet whose first sample is captured at <paramref name="first"/> (µs on this machine's clock).</summary>
    private void Fill(short[] pcm, long first)
    {
        int samples = _format.PacketSamples;
        for (int i = 0; i < samples; i++)
        {
            // Time within the second, in samples: exact integer arithmetic, so the beep starts on the second's sample.
            long sampleInSecond = ((first % 1_000_000) * _format.SampleRate / 1_000_000) + i;
            long t = sampleInSecond % _format.SampleRate;
            short value = t < BeepMicros * _format.SampleRate / 1_000_000
                ? (short)(Amplitude * Math.Sin(2 * Math.PI * BeepHz * t / _format.SampleRate))
                : (short)0;
            for (int c = 0; c < _format.Channels; c++)
            {
                pcm[(i * _format.Channels) + c] = value;
            }
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
