using BenchmarkDotNet.Attributes;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Protocol;
using SocketCam.Udp;

namespace SocketCam.Benchmarks;

/// <summary>Live video over UDP, per 150 KB frame: fragmenting with XOR parity, and reassembling (all fragments, or one lost per group).</summary>
[MemoryDiagnoser]
public class UdpBenchmarks
{
    private const int FrameBytes = 150_000;
    private readonly VideoFrameHeader _header = new(CodecId.Jpeg, 1280, 720, 1, 2);
    private byte[] _picture = [];
    private byte[][] _datagrams = [];
    private byte[][] _withLoss = [];
    private FrameReassembler _reassembler = null!;
    private uint _frameId;

    /// <summary>Parity group size G (0 = no parity).</summary>
    [Params(0, 10)]
    public int Group { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _picture = new byte[FrameBytes];
        new Random(1).NextBytes(_picture);
        using FragmentedFrame frame = FrameFragmenter.Fragment(1, 0, _header, _picture, Group);
        _datagrams = [.. Enumerable.Range(0, frame.Count).Select(i => frame[i].ToArray())];

        // One data fragment lost in every group: each group is rebuilt from its parity.
        _withLoss = Group == 0 ? _datagrams : [.. _datagrams.Where((_, p) => p % (Group + 1) != 0)];
        _reassembler = new FrameReassembler(16 << 20);
    }

    [GlobalCleanup]
    public void Cleanup() => _reassembler.Dispose();

    [Benchmark]
    public int Fragment()
    {
        using FragmentedFrame frame = FrameFragmenter.Fragment(1, _frameId++, _header, _picture, Group);
        return frame.Count;
    }

    [Benchmark]
    public int Reassemble() => Feed(_datagrams);

    [Benchmark]
    public int ReassembleWithOneLossPerGroup() => Feed(_withLoss);

    private int Feed(byte[][] datagrams)
    {
        // Rewrite the frame id so every run is a new, newer frame.
        uint id = _frameId++;
        int length = 0;
        foreach (byte[] d in datagrams)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(16), id);
            if (_reassembler.Accept(d, 0, out CompletedFrame? completed) == ReassemblyResult.Completed)
            {
                length = completed!.Length;
                completed.Dispose();
            }
        }

        return length;
    }
}
