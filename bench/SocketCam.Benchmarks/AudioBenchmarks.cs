using BenchmarkDotNet.Attributes;
using SocketCam.Audio;
using SocketCam.Audio.Opus;

namespace SocketCam.Benchmarks;

/// <summary>
/// One 20 ms packet of voice-band audio (48 kHz mono, 32 kbit/s, FEC on, the call defaults) encoded and decoded by
/// libopus (P/Invoke, what the engine uses) and by Concentus (the pure C# port, the fallback the issue names), on the
/// same signal: a 440 Hz tone with a little noise, so neither codec meets silence. The ratio picks the codec.
/// Run: dotnet run -c Release --project bench/SocketCam.Benchmarks -- --filter '*AudioBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class AudioBenchmarks
{
    private const int Packet = 960;
    private readonly short[] _pcm = new short[Packet * 50];
    private readonly byte[] _packet = new byte[OpusEncoder.MaxPacketBytes];
    private readonly short[] _decoded = new short[OpusDecoder.MaxPacketSamples];
    private byte[][] _libopusPackets = [];
    private OpusEncoder _libopus = null!;
    private OpusDecoder _libopusDecoder = null!;
    private Concentus.Structs.OpusEncoder _concentus = null!;
    private Concentus.Structs.OpusDecoder _concentusDecoder = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        for (int i = 0; i < _pcm.Length; i++)
        {
            _pcm[i] = (short)((4000 * Math.Sin(2 * Math.PI * 440 * i / 48_000)) + random.Next(-300, 300));
        }

        var options = new AudioOptions();
        // The managed classes themselves: OpusCodecFactory would hand out libopus here (it prefers native code).
#pragma warning disable CS0618
        _libopus = new OpusEncoder(options);
        _libopusDecoder = new OpusDecoder(1);
        _concentus = new Concentus.Structs.OpusEncoder(48_000, 1, Concentus.Enums.OpusApplication.OPUS_APPLICATION_VOIP)
        {
            Bitrate = options.Bitrate,
            UseInbandFEC = true,
            PacketLossPercent = 5,
            UseDTX = true,
        };
        _concentusDecoder = new Concentus.Structs.OpusDecoder(48_000, 1);
#pragma warning restore CS0618
        _libopusPackets = [.. Enumerable.Range(0, 50).Select(_ => EncodeLibopus())];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _libopus.Dispose();
        _libopusDecoder.Dispose();
    }

    [Benchmark(Baseline = true, Description = "libopus encode 20 ms")]
    public int LibopusEncode() => _libopus.Encode(NextPcm(), _packet);

    [Benchmark(Description = "Concentus encode 20 ms")]
    public int ConcentusEncode() => _concentus.Encode(NextPcm(), Packet, _packet, _packet.Length);

    [Benchmark(Description = "libopus decode 20 ms")]
    public int LibopusDecode() => _libopusDecoder.Decode(_libopusPackets[Next()], _decoded);

    // Both decoders decode libopus's packets (the same input). Concentus 2.2.2 threw OpusException ("argument out of
    // range") decoding a run of its own encoder's FEC packets here: one more reason for libopus.
    [Benchmark(Description = "Concentus decode 20 ms")]
    public int ConcentusDecode() => _concentusDecoder.Decode(_libopusPackets[Next()], _decoded.AsSpan(0, Packet), Packet, false);

    private byte[] EncodeLibopus() => _packet[.._libopus.Encode(NextPcm(), _packet)];

    private ReadOnlySpan<short> NextPcm() => _pcm.AsSpan(Next() * Packet, Packet);

    private int Next() => _next = (_next + 1) % 50;
}
