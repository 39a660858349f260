using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using SocketCam.Codecs;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Ffmpeg;
using SocketCam.Media;

namespace SocketCam.Benchmarks;

/// <summary>
/// What the capture path costs per frame on ffmpeg's own output (1280x720 testsrc2): splitting an MJPEG stream for
/// pass-through, against reading a YUV4MPEG2 picture, expanding its range and compressing it ourselves.
/// </summary>
[MemoryDiagnoser]
public class CaptureBenchmarks
{
    private const int Frames = 30;
    private byte[] _mjpeg = null!;
    private byte[] _y4m = null!;
    private JpegEncoder _encoder = null!;
    private byte[] _jpegBuffer = null!;

    [GlobalSetup]
    public void Setup()
    {
        string[] input = ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-frames:v", "30"];
        _mjpeg = Run([.. input, "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "4", "-f", "mjpeg", "pipe:1"]);
        _y4m = Run([.. input, "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "pipe:1"]);
        _encoder = new JpegEncoder(new JpegOptions { Quality = 80 });
        _jpegBuffer = new byte[_encoder.MaxEncodedSize(1280, 720)];
    }

    [GlobalCleanup]
    public void Cleanup() => _encoder.Dispose();

    /// <summary>Pass-through: marker-walk split of one frame out of ffmpeg's MJPEG stream (read in 64 KiB pipe-sized chunks).</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public async Task<int> MjpegSplitPerFrame()
    {
        var splitter = new MjpegStreamSplitter(new ChunkedStream(_mjpeg, 65536), 16 << 20);
        int frames = 0;
        while (!(await splitter.ReadFrameAsync(CancellationToken.None)).Jpeg.IsEmpty)
        {
            frames++;
        }

        return frames;
    }

    /// <summary>No pass-through: read an I420 picture, expand its range and compress it with libjpeg-turbo.</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public async Task<int> Y4mReadAndEncodePerFrame()
    {
        Y4mReader reader = (await Y4mReader.OpenAsync(new ChunkedStream(_y4m, 65536), CancellationToken.None))!;
        int bytes = 0;
        while (await reader.ReadFrameAsync(CancellationToken.None) is { } frame)
        {
            using (frame)
            {
                bytes += _encoder.Encode(frame, _jpegBuffer);
            }
        }

        return bytes;
    }

    private static byte[] Run(string[] args)
    {
        var info = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(info)!;
        using var output = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(output);
        process.WaitForExit();
        return output.ToArray();
    }

    /// <summary>Hands out at most a pipe's worth per read, like ffmpeg's stdout.</summary>
    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }
}
