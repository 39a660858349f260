using BenchmarkDotNet.Attributes;
using SocketCam.Seed;

namespace SocketCam.Benchmarks;

/// <summary>
/// The seed format's cost per frame at 1280x720 BGR: writing the exact pickle around the pixels (what every seed
/// client is sent; the pixels themselves are copied or decoded in place), and reading one through the allow-list
/// (what `view seed+tcp://` does: the pixels are not copied, only located).
/// </summary>
[MemoryDiagnoser]
public class SeedBenchmarks
{
    private const int Width = 1280;
    private const int Height = 720;
    private byte[] _pixels = null!;
    private byte[] _pickle = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pixels = new byte[Width * Height * 3];
        new Random(1).NextBytes(_pixels);
        _pickle = new byte[NumpyPickle.PickledLength(Height, Width, 3)];
        NumpyPickle.Write(_pickle, _pixels, Height, Width, 3);
    }

    /// <summary>The opcodes around the pixels only (the seed listener decodes JPEG straight into the gap).</summary>
    [Benchmark]
    public int WriteAround() => NumpyPickle.WriteAround(_pickle, Height, Width, 3, out _);

    /// <summary>Opcodes plus a copy of the 2.7 MB of pixels (a raw-codec room).</summary>
    [Benchmark]
    public int WriteWithPixels() => NumpyPickle.Write(_pickle, _pixels, Height, Width, 3);

    /// <summary>Allow-list parse of CPython's protocol-4 pickle of the frame.</summary>
    [Benchmark]
    public int Read()
    {
        byte[]? scratch = null;
        return NumpyPickle.Read(_pickle, ref scratch).Pixels.Length;
    }
}
