using BenchmarkDotNet.Attributes;
using SocketCam.Codecs;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Media;
using SocketCam.Sources;

namespace SocketCam.Benchmarks;

/// <summary>Per-frame codec costs on the test pattern (JPEG quality 80, 4:2:0: the streaming defaults).</summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private VideoFrame _frame = null!;
    private VideoFrame _decoded = null!;
    private JpegEncoder _jpegEncoder = null!;
    private JpegDecoder _jpegDecoder = null!;
    private RawEncoder _rawEncoder = null!;
    private byte[] _jpegBuffer = null!;
    private byte[] _rawBuffer = null!;
    private byte[] _jpeg = null!;
    private TestPatternSource _source = null!;

    [Params("1280x720", "1920x1080")]
    public string Size { get; set; } = "1280x720";

    [GlobalSetup]
    public void Setup()
    {
        (int width, int height) = FrameSize.Parse(Size);
        var source = new TestPatternSource(new TestPatternOptions { Width = width, Height = height, Fps = 0 });
        using (VideoFrame frame = source.ReadFrameAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult()!)
        {
            _frame = VideoFrame.Rent(width, height);
            for (int y = 0; y < height; y++)
            {
                frame.Row(y).CopyTo(_frame.Buffer.AsSpan(y * _frame.Stride));
            }
        }

        source.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _source = new TestPatternSource(new TestPatternOptions { Width = width, Height = height, Fps = 0 });

        _decoded = VideoFrame.Rent(width, height);
        _jpegEncoder = new JpegEncoder(new JpegOptions { Quality = 80, Subsampling = ChromaSubsampling.S420 });
        _jpegDecoder = new JpegDecoder();
        _rawEncoder = new RawEncoder();
        _jpegBuffer = new byte[_jpegEncoder.MaxEncodedSize(width, height)];
        _rawBuffer = new byte[_rawEncoder.MaxEncodedSize(width, height)];
        _jpeg = _jpegBuffer.AsSpan(0, _jpegEncoder.Encode(_frame, _jpegBuffer)).ToArray();
        Console.WriteLine($"// {Size}: test pattern JPEG q80 4:2:0 = {_jpeg.Length} bytes");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _jpegEncoder.Dispose();
        _jpegDecoder.Dispose();
        _frame.Dispose();
        _decoded.Dispose();
        _source.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark]
    public int JpegEncode() => _jpegEncoder.Encode(_frame, _jpegBuffer);

    [Benchmark]
    public void JpegDecode() => _jpegDecoder.Decode(_jpeg, _frame.Width, _frame.Height, _decoded);

    [Benchmark]
    public int RawEncode() => _rawEncoder.Encode(_frame, _rawBuffer);

    /// <summary>One unpaced test pattern frame: read, then dispose (draws and undoes the overlays).</summary>
    [Benchmark]
    public long PatternFrame()
    {
        using VideoFrame frame = _source.ReadFrameAsync(CancellationToken.None).Result!;
        return frame.Sequence;
    }

    [Benchmark]
    public bool JpegValidate() => JpegStructure.TryValidate(_jpeg, out _, out _, out _);
}
