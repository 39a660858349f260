using SocketCam.Audio;
using SocketCam.Audio.Opus;
using SocketCam.Tests.Support;

namespace SocketCam.Tests.Audio;

/// <summary>libopus itself (no mocks): what goes in comes out at the same pitch and level, and a lost packet is made up.</summary>
public sealed class OpusCodecTests
{
    private static readonly AudioOptions Voice = new();

    [Fact]
    public void A_440_hz_tone_survives_encode_and_decode_at_its_pitch_and_level()
    {
        using var encoder = new OpusEncoder(Voice);
        using var decoder = new OpusDecoder(1);
        int packet = encoder.Format.PacketSamples;
        Assert.Equal(960, packet);
        short[] source = WavAnalysis.Sine(440, 48_000, packet * 100);
        var decoded = new List<short>();
        var bytes = new byte[OpusEncoder.MaxPacketBytes];
        var pcm = new short[OpusDecoder.MaxPacketSamples];
        for (int i = 0; i < 100; i++)
        {
            int length = encoder.Encode(source.AsSpan(i * packet, packet), bytes);
            Assert.InRange(length, 3, 1275); // a tone is never DTX silence
            Assert.Equal(packet, OpusDecoder.SamplesIn(bytes.AsSpan(0, length)));
            int n = decoder.Decode(bytes.AsSpan(0, length), pcm);
            Assert.Equal(packet, n);
            decoded.AddRange(pcm.AsSpan(0, n));
        }

        short[] steady = decoded.Skip(48_000 / 2).ToArray(); // after the codec has settled
        Assert.Equal(440, WavAnalysis.DominantFrequency(steady, 48_000), 0);
        Assert.InRange(WavAnalysis.LevelDbfs(steady) - WavAnalysis.LevelDbfs(source), -1.0, 1.0);
    }

    [Fact]
    public void Silence_is_dtx_and_a_lost_packet_is_rebuilt_from_the_next_ones_fec_or_concealed()
    {
        using var encoder = new OpusEncoder(Voice);
        var bytes = new byte[OpusEncoder.MaxPacketBytes];
        int silent = 0;
        short[] quiet = new short[960];
        for (int i = 0; i < 50; i++)
        {
            silent += encoder.Encode(quiet, bytes) <= 2 ? 1 : 0;
        }

        // libopus sends the first few packets of silence and then one every 400 ms (to keep comfort noise going): ~39 of 50.
        Assert.True(silent >= 30, $"only {silent} of 50 silent packets were DTX");

        // A tone: encode packets 0..9, "lose" packet 5, rebuild it from packet 6's FEC.
        using var fecEncoder = new OpusEncoder(Voice);
        short[] source = WavAnalysis.Sine(440, 48_000, 960 * 10);
        var packets = new List<byte[]>();
        for (int i = 0; i < 10; i++)
        {
            int length = fecEncoder.Encode(source.AsSpan(i * 960, 960), bytes);
            packets.Add(bytes[..length]);
        }

        using var decoder = new OpusDecoder(1);
        var pcm = new short[OpusDecoder.MaxPacketSamples];
        for (int i = 0; i < 5; i++)
        {
            decoder.Decode(packets[i], pcm);
        }

        Assert.Equal(960, decoder.Recover(packets[6], 960, pcm));
        Assert.True(WavAnalysis.LevelDbfs(pcm.AsSpan(0, 960)) > -40, "the recovered packet is silent");
        Assert.Equal(960, decoder.Decode(packets[6], pcm));
        Assert.Equal(960, decoder.Conceal(960, pcm));
    }

    [Fact]
    public void A_corrupt_packet_is_an_error_not_a_crash_and_bad_options_name_their_flag()
    {
        using var decoder = new OpusDecoder(1);
        var pcm = new short[OpusDecoder.MaxPacketSamples];
        // TOC byte for a code-3 packet with a frame count of 0: invalid (RFC 6716 §3.2.5).
        Assert.Throws<InvalidDataException>(() => decoder.Decode([0x03, 0x00], pcm));
        Assert.Equal(-1, OpusDecoder.SamplesIn([0x03, 0x00]));
        Assert.Contains("--audio-bitrate", Assert.Throws<ArgumentException>(() => new AudioOptions { Bitrate = 1 }.Validated()).Message, StringComparison.Ordinal);
        Assert.Contains("--audio-packet", Assert.Throws<ArgumentException>(() => new AudioOptions { PacketMilliseconds = 30 }.Validated()).Message, StringComparison.Ordinal);
        Assert.Contains("--audio-channels", Assert.Throws<ArgumentException>(() => new AudioOptions { Channels = 3 }.Validated()).Message, StringComparison.Ordinal);
        Assert.StartsWith("libopus", OpusLibrary.Version, StringComparison.Ordinal);
    }
}
