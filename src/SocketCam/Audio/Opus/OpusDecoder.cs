namespace SocketCam.Audio.Opus;

/// <summary>
/// libopus's decoder at 48 kHz. Besides decoding a packet it conceals a lost one: from the next packet's in-band FEC when
/// that packet is already here (<see cref="Recover"/>), else by packet-loss concealment (<see cref="Conceal"/>). Not
/// thread-safe: one per received track.
/// </summary>
internal sealed unsafe class OpusDecoder : IDisposable
{
    /// <summary>The longest Opus packet: 120 ms at 48 kHz.</summary>
    public const int MaxPacketSamples = 5760;

    private readonly OpusDecoderHandle _handle;

    public OpusDecoder(int channels)
    {
        if (channels is < 1 or > 2)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "Opus decodes 1 or 2 channels here.");
        }

        Channels = channels;
        _handle = OpusDecoderHandle.Create(AudioFormat.OpusRate, channels);
    }

    public int Channels { get; }

    /// <summary>Decodes one packet into <paramref name="pcm"/> (interleaved); returns samples per channel. Throws on a corrupt packet.</summary>
    public int Decode(ReadOnlySpan<byte> packet, Span<short> pcm)
    {
        fixed (byte* d = packet)
        fixed (short* p = pcm)
        {
            return Checked(OpusNative.Decode(_handle, d, packet.Length, p, pcm.Length / Channels, 0));
        }
    }

    /// <summary>Packet-loss concealment for <paramref name="samples"/> samples per channel (a multiple of 2.5 ms).</summary>
    public int Conceal(int samples, Span<short> pcm)
    {
        fixed (short* p = pcm)
        {
            return Checked(OpusNative.Decode(_handle, null, 0, p, Math.Min(samples, pcm.Length / Channels), 0));
        }
    }

    /// <summary>
    /// Rebuilds the packet lost just before <paramref name="next"/> from <paramref name="next"/>'s in-band FEC
    /// (<paramref name="samples"/> per channel: the lost packet's duration); without FEC data libopus conceals instead.
    /// </summary>
    public int Recover(ReadOnlySpan<byte> next, int samples, Span<short> pcm)
    {
        fixed (byte* d = next)
        fixed (short* p = pcm)
        {
            return Checked(OpusNative.Decode(_handle, d, next.Length, p, Math.Min(samples, pcm.Length / Channels), 1));
        }
    }

    /// <summary>Samples per channel in a packet at 48 kHz, or -1 when it is not a valid Opus packet.</summary>
    public static int SamplesIn(ReadOnlySpan<byte> packet)
    {
        OpusLibrary.EnsureAvailable();
        fixed (byte* d = packet)
        {
            int n = OpusNative.PacketSamples(d, packet.Length, AudioFormat.OpusRate);
            return n > 0 ? n : -1;
        }
    }

    public void Dispose() => _handle.Dispose();

    private static int Checked(int result) =>
        result >= 0 ? result : throw new InvalidDataException($"Opus could not decode the packet: {OpusNative.ErrorText(result)}.");
}
