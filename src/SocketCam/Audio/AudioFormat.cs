namespace SocketCam.Audio;

/// <summary>
/// What one audio packet holds: sample rate, channels and the packet's duration. Samples are interleaved signed 16-bit
/// (s16le), the format ffmpeg delivers, Opus takes and WAV stores.
/// </summary>
internal readonly record struct AudioFormat(int SampleRate, int Channels, int PacketMicros)
{
    /// <summary>Opus's native rate: 48 kHz.</summary>
    public const int OpusRate = 48_000;

    /// <summary>Samples per channel in one packet (960 for 20 ms at 48 kHz).</summary>
    public int PacketSamples => (int)((long)SampleRate * PacketMicros / 1_000_000);

    /// <summary>Interleaved samples (all channels) in one packet.</summary>
    public int PacketValues => PacketSamples * Channels;

    /// <summary>Bytes of s16le PCM in one packet.</summary>
    public int PacketBytes => PacketValues * sizeof(short);

    /// <summary>Microseconds of <paramref name="samples"/> samples per channel.</summary>
    public long MicrosOf(long samples) => samples * 1_000_000 / SampleRate;
}

/// <summary>
/// How audio is encoded (`--audio-bitrate`, `--audio-packet`, `--audio-channels`; docs/AUDIO.md). Defaults: 48 kHz mono,
/// 20 ms packets, 32 kbit/s, in-band FEC on (it costs a little bitrate and recovers single losses), DTX on (silence sends
/// one packet every 400 ms instead of 50 a second).
/// </summary>
internal sealed record AudioOptions
{
    /// <summary>Channels: 1 (default) or 2.</summary>
    public int Channels { get; init; } = 1;

    /// <summary>Packet duration in ms: 20 (default) or 10.</summary>
    public int PacketMilliseconds { get; init; } = 20;

    /// <summary>Target bitrate in bits per second (6000..510000; default 32000, good for voice, fair for music).</summary>
    public int Bitrate { get; init; } = 32_000;

    /// <summary>In-band forward error correction (default on).</summary>
    public bool Fec { get; init; } = true;

    /// <summary>Discontinuous transmission: near silence sends (almost) nothing (default on).</summary>
    public bool Dtx { get; init; } = true;

    public AudioFormat Format => new(AudioFormat.OpusRate, Channels, PacketMilliseconds * 1000);

    /// <summary>Throws <see cref="ArgumentException"/> with one line naming the option when a value is out of range.</summary>
    public AudioOptions Validated()
    {
        if (Channels is not (1 or 2))
        {
            throw new ArgumentException($"--audio-channels must be 1 or 2, not {Channels}.");
        }

        if (PacketMilliseconds is not (10 or 20))
        {
            throw new ArgumentException($"--audio-packet must be 10 or 20 (ms), not {PacketMilliseconds}.");
        }

        if (Bitrate is < 6_000 or > 510_000)
        {
            throw new ArgumentException($"--audio-bitrate must be between 6000 and 510000 bits per second, not {Bitrate}.");
        }

        return this;
    }
}
