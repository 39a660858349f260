namespace SocketCam.Audio;

/// <summary>PCM for an audio track, one packet at a time: ffmpeg's (<see cref="FfmpegAudioSource"/>) or built in (<see cref="SyncToneSource"/>).</summary>
internal interface IAudioSource : IAsyncDisposable
{
    AudioSourceSpec Spec { get; }

    /// <summary>
    /// Reads the next packet's samples into <paramref name="pcm"/> (<see cref="AudioFormat.PacketValues"/> long) and returns
    /// the capture time of its first sample (µs, this machine's clock), or -1 when the source ended.
    /// </summary>
    ValueTask<long> ReadAsync(short[] pcm, CancellationToken cancellationToken);
}

/// <summary>
/// Releases the packets of a source that is not a device at their own deadlines: packet n at start + (n + 1) packets,
/// its first sample captured at start + n packets, so they leave as evenly as a microphone's and their capture times
/// are exact. A reader more than 60 ms late restarts the schedule from now rather than bursting to catch up.
/// </summary>
internal sealed class AudioPacer
{
    private const long MaxLateMicros = 60_000;
    private readonly long _packetMicros;
    private long _start = -1;
    private long _packets;

    public AudioPacer(long packetMicros)
    {
        _packetMicros = packetMicros;
    }

    /// <summary>The capture time the next packet will have if it is released on time (for sources that make their own sound).</summary>
    public long NextCaptureMicros(long nowMicros)
    {
        Restart(nowMicros);
        return _start + (_packets * _packetMicros);
    }

    /// <summary>Waits until the packet just read is due; returns its first sample's capture time.</summary>
    public async ValueTask<long> WaitAsync(CancellationToken cancellationToken)
    {
        long now = Diagnostics.Clock.NowMicros();
        Restart(now);
        long due = _start + ((_packets + 1) * _packetMicros);
        if (due - now > 500)
        {
            await Task.Delay(TimeSpan.FromMicroseconds(due - now), cancellationToken);
        }

        return _start + (_packets++ * _packetMicros);
    }

    private void Restart(long nowMicros)
    {
        if (_start < 0 || nowMicros - (_start + ((_packets + 1) * _packetMicros)) > MaxLateMicros)
        {
            _start = nowMicros - _packetMicros;
            _packets = 0;
        }
    }
}
