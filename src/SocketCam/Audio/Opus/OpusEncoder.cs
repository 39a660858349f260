namespace SocketCam.Audio.Opus;

/// <summary>
/// libopus's encoder at 48 kHz, one packet per <see cref="AudioFormat.PacketSamples"/> samples, tuned for calls (VOIP
/// application: speech first, in-band FEC expecting a little loss, DTX). Not thread-safe: one per track.
/// </summary>
internal sealed unsafe class OpusEncoder : IDisposable
{
    /// <summary>The buffer a packet is encoded into (4000 is libopus's recommendation).</summary>
    public const int MaxPacketBytes = 4000;

    /// <summary>
    /// The largest packet made: every packet fits one UDP datagram (docs/PROTOCOL.md §2.0 "Audio": 1132 bytes, about
    /// 450 kbit/s at 20 ms); libopus lowers the bitrate of a packet that would be larger.
    /// </summary>
    public const int MaxEncodedBytes = 1132;

    private readonly OpusEncoderHandle _handle;

    public OpusEncoder(AudioOptions options)
    {
        Options = options.Validated();
        Format = options.Format;
        _handle = OpusEncoderHandle.Create(Format.SampleRate, Format.Channels, OpusNative.ApplicationVoip);
        Set(OpusNative.SetBitrateRequest, options.Bitrate);
        Set(OpusNative.SetInbandFecRequest, options.Fec ? 1 : 0);
        // FEC only goes in when the encoder expects loss; 5% is what a call over Wi-Fi sees.
        Set(OpusNative.SetPacketLossPercRequest, options.Fec ? 5 : 0);
        Set(OpusNative.SetDtxRequest, options.Dtx ? 1 : 0);
        if (OpusNative.EncoderCtlGet(_handle, OpusNative.GetLookaheadRequest, out int lookahead) == OpusNative.Ok)
        {
            LookaheadSamples = lookahead;
        }
    }

    public AudioOptions Options { get; }

    public AudioFormat Format { get; }

    /// <summary>The encoder's delay in samples (312 at 48 kHz for VOIP): decoded audio lags the input by this much.</summary>
    public int LookaheadSamples { get; }

    /// <summary>
    /// Encodes one packet's PCM (exactly <see cref="AudioFormat.PacketValues"/> interleaved samples) into <paramref name="packet"/>;
    /// returns its length. A length of 1 or 2 is a DTX packet: silence the sender need not send.
    /// </summary>
    public int Encode(ReadOnlySpan<short> pcm, Span<byte> packet)
    {
        if (pcm.Length != Format.PacketValues)
        {
            throw new ArgumentException($"An Opus packet takes {Format.PacketValues} samples, not {pcm.Length}.", nameof(pcm));
        }

        fixed (short* p = pcm)
        fixed (byte* d = packet)
        {
            int n = OpusNative.Encode(_handle, p, Format.PacketSamples, d, Math.Min(packet.Length, MaxEncodedBytes));
            return n >= 0 ? n : throw new InvalidOperationException($"opus_encode failed: {OpusNative.ErrorText(n)}.");
        }
    }

    public void Dispose() => _handle.Dispose();

    private void Set(int request, int value)
    {
        int error = OpusNative.EncoderCtl(_handle, request, value);
        if (error != OpusNative.Ok)
        {
            throw new ArgumentException($"Opus refused setting {request} = {value}: {OpusNative.ErrorText(error)}.");
        }
    }
}
