using System.Diagnostics;
using System.Globalization;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Codecs.H264;
using SocketCam.Codecs.TurboJpeg;
using SocketCam.Ffmpeg;
using SocketCam.Media;
using SocketCam.Sources;

namespace SocketCam.Cli.Bench;

/// <summary>
/// `bench --codecs`: JPEG against H.264 at equal quality (docs/H264.md "Measurements"). The same frames of one source are
/// encoded with our encoders, decoded with our decoders, and compared with the source by ffmpeg's ssim filter; a search
/// finds the smallest JPEG quality and the lowest H.264 bitrate that reach the target SSIM, and reports their bitrates,
/// and the encode and decode CPU per frame of this process (libx264's own threads included).
/// </summary>
internal static class CodecBench
{
    public static async Task<int> RunAsync(IFrameSource source, int frameCount, double fps, double targetSsim, CancellationToken cancellationToken)
    {
        fps = fps > 0 ? fps : source.Fps > 0 ? source.Fps : 30;
        List<VideoFrame> frames = await ReadFramesAsync(source, frameCount, cancellationToken);
        string directory = Directory.CreateTempSubdirectory("socketcam-codecs-").FullName;
        try
        {
            int width = frames[0].Width;
            int height = frames[0].Height;
            string sourceFile = Path.Combine(directory, "source.bgr");
            await WriteBgrAsync(frames, sourceFile, cancellationToken);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench --codecs: {source.Description}, {frames.Count} frames {width}x{height} at {fps:0.##} fps; target SSIM {targetSsim:0.###}"));

            async Task<Trial> JpegAsync(int quality) =>
                await TrialAsync($"jpeg q{quality}", () => new JpegEncoder(new JpegOptions { Quality = quality }), () => new JpegDecoder(), frames, fps, sourceFile, directory, cancellationToken);

            async Task<Trial> H264Async(int kbps) =>
                await TrialAsync($"h264 {kbps} kbit/s", () => new X264Encoder(new H264Options { BitrateKbps = kbps }, fps), () => new H264Decoder(), frames, fps, sourceFile, directory, cancellationToken);

            Trial jpeg = await SearchAsync(2, 98, JpegAsync, targetSsim, geometric: false);
            Trial h264 = await SearchAsync(100, 40_000, H264Async, targetSsim, geometric: true);
            Trial defaults = await H264Async(new H264Options().BitrateFor(width, height, fps));
            Console.WriteLine();
            Console.WriteLine("codec                    Mbit/s  bytes/frame   SSIM    encode ms/frame  decode ms/frame");
            foreach (Trial t in new[] { jpeg, h264, defaults })
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{t.Name,-24} {t.Mbps,6:0.00}  {t.BytesPerFrame,11:0}  {t.Ssim,6:0.0000}  {t.EncodeMs,15:0.00}  {t.DecodeMs,15:0.00}"));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"at SSIM >= {targetSsim:0.###}: H.264 is {jpeg.Mbps / h264.Mbps:0.0}x smaller than JPEG ({jpeg.Name} vs {h264.Name}); the default H.264 bitrate gives SSIM {defaults.Ssim:0.0000}"));
            return 0;
        }
        finally
        {
            foreach (VideoFrame f in frames)
            {
                f.Dispose();
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    private sealed record Trial(string Name, int Setting, double Mbps, double BytesPerFrame, double Ssim, double EncodeMs, double DecodeMs);

    /// <summary>The lowest setting whose SSIM reaches the target (SSIM grows with quality and bitrate), by bisection.</summary>
    private static async Task<Trial> SearchAsync(int low, int high, Func<int, Task<Trial>> trial, double target, bool geometric)
    {
        Trial best = await trial(high);
        if (best.Ssim < target)
        {
            Console.Error.WriteLine($"  even {best.Name} stays below the target");
            return best;
        }

        while (high - low > Math.Max(1, geometric ? high / 20 : 1))
        {
            int middle = geometric ? (int)Math.Sqrt((double)low * high) : (low + high) / 2;
            Trial t = await trial(middle);
            if (t.Ssim >= target)
            {
                high = middle;
                best = t;
            }
            else
            {
                low = middle;
            }
        }

        return best;
    }

    private static async Task<Trial> TrialAsync(string name, Func<IFrameEncoder> makeEncoder, Func<IFrameDecoder> makeDecoder, List<VideoFrame> frames, double fps, string sourceFile, string directory, CancellationToken cancellationToken)
    {
        int width = frames[0].Width;
        int height = frames[0].Height;
        var encoded = new List<byte[]>(frames.Count);
        TimeSpan encodeCpu;
        using (IFrameEncoder encoder = makeEncoder())
        {
            byte[] buffer = new byte[encoder.MaxEncodedSize(width, height)];
            TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            foreach (VideoFrame frame in frames)
            {
                int length = encoder.Encode(frame, buffer);
                encoded.Add(buffer[..length]);
            }

            encodeCpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        }

        string decodedFile = Path.Combine(directory, "decoded.bgr");
        TimeSpan decodeCpu = TimeSpan.Zero;
        using (IFrameDecoder decoder = makeDecoder())
        using (VideoFrame picture = VideoFrame.Rent(width, height))
        await using (FileStream output = File.Create(decodedFile))
        {
            foreach (byte[] unit in encoded)
            {
                TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                decoder.Decode(unit, width, height, picture);
                decodeCpu += Process.GetCurrentProcess().TotalProcessorTime - cpu0;
                await output.WriteAsync(picture.Buffer.AsMemory(picture.Offset, width * height * 3), cancellationToken);
            }
        }

        double ssim = await SsimAsync(decodedFile, sourceFile, width, height, cancellationToken);
        double bytes = encoded.Average(e => e.Length);
        var trial = new Trial(name, 0, bytes * 8 * fps / 1e6, bytes, ssim, encodeCpu.TotalMilliseconds / frames.Count, decodeCpu.TotalMilliseconds / frames.Count);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name}: {trial.Mbps:0.00} Mbit/s, SSIM {ssim:0.0000}"));
        return trial;
    }

    /// <summary>ffmpeg's ssim filter on 4:2:0 YUV (the usual way) over two raw BGR files of the same frames, read as rawvideo so frames pair one to one.</summary>
    private static async Task<double> SsimAsync(string distorted, string reference, int width, int height, CancellationToken cancellationToken)
    {
        string size = $"{width}x{height}";
        var info = new ProcessStartInfo(FfmpegTool.Locate())
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string a in new[]
        {
            "-hide_banner", "-nostats", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", size, "-i", distorted,
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", size, "-i", reference,
            "-lavfi", "[0:v]format=yuv420p[d];[1:v]format=yuv420p[r];[d][r]ssim", "-f", "null", "-",
        })
        {
            info.ArgumentList.Add(a);
        }

        using Process ffmpeg = Process.Start(info) ?? throw new InvalidOperationException("ffmpeg did not start.");
        Task<string> stdout = ffmpeg.StandardOutput.ReadToEndAsync(cancellationToken);
        string stderr = await ffmpeg.StandardError.ReadToEndAsync(cancellationToken);
        await stdout;
        await ffmpeg.WaitForExitAsync(cancellationToken);
        int at = stderr.LastIndexOf(" All:", StringComparison.Ordinal);
        if (ffmpeg.ExitCode != 0 || at < 0)
        {
            throw new InvalidOperationException("ffmpeg's ssim filter failed: " + stderr.Trim().Split('\n')[^1]);
        }

        string value = stderr[(at + 5)..].Split(' ')[0];
        return double.Parse(value, CultureInfo.InvariantCulture);
    }

    private static async Task<List<VideoFrame>> ReadFramesAsync(IFrameSource source, int count, CancellationToken cancellationToken)
    {
        var frames = new List<VideoFrame>(count);
        using var toBgr = new YuvToBgrConverter();
        while (frames.Count < count)
        {
            using VideoFrame? frame = await source.ReadFrameAsync(cancellationToken);
            if (frame is null)
            {
                break;
            }

            frames.Add(frame.Format == PixelFormat.I420 ? toBgr.ToBgr(frame) : Copy(frame));
        }

        if (frames.Count < 2)
        {
            throw new UserFacingException("bench --codecs: the source gave fewer than 2 frames.");
        }

        return frames;
    }

    private static VideoFrame Copy(VideoFrame frame)
    {
        VideoFrame copy = VideoFrame.Rent(frame.Width, frame.Height);
        for (int y = 0; y < frame.Height; y++)
        {
            frame.Row(y).CopyTo(copy.Buffer.AsSpan(y * copy.Stride, frame.Width * 3));
        }

        return copy;
    }

    private static async Task WriteBgrAsync(List<VideoFrame> frames, string path, CancellationToken cancellationToken)
    {
        await using FileStream output = File.Create(path);
        foreach (VideoFrame f in frames)
        {
            await output.WriteAsync(f.Buffer.AsMemory(0, f.Width * f.Height * 3), cancellationToken);
        }
    }
}
