using System.Diagnostics;
using System.Globalization;
using SocketCam.Cli.Output;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Sources;

namespace SocketCam.Cli.Bench;

/// <summary>`bench --source-only`: how fast a source hands out frames, and what that costs in this process and in ffmpeg.</summary>
internal static class SourceBench
{
    public static async Task<int> RunAsync(IFrameSource source, long frames, bool json, CancellationToken cancellationToken)
    {
        bool encoded = source is IEncodedFrameSource { ProvidedCodec: SocketCam.Media.CodecId.Jpeg };
        for (int i = 0; i < 10; i++)
        {
            await ReadOneAsync(source, encoded, cancellationToken); // warm-up: JIT, pools, ffmpeg's pipeline
        }

        TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        TimeSpan child0 = BenchRunner.ChildCpu(source);
        long t0 = Stopwatch.GetTimestamp();
        long read = 0;
        long lastReport = t0;
        while (read < frames && await ReadOneAsync(source, encoded, cancellationToken))
        {
            read++;
            if (Stopwatch.GetElapsedTime(lastReport) > TimeSpan.FromSeconds(1))
            {
                lastReport = Stopwatch.GetTimestamp();
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {read}/{frames} frames, {read / Stopwatch.GetElapsedTime(t0).TotalSeconds:0.0} fps"));
            }
        }

        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds / Math.Max(1, read);
        double childMs = (BenchRunner.ChildCpu(source) - child0).TotalMilliseconds / Math.Max(1, read);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"source {source.Description}: {read} frames in {seconds:0.00} s = {read / seconds:0.0} fps; cpu {cpuMs:0.000} ms/frame here, {childMs:0.000} ms/frame in ffmpeg"));
        if (json)
        {
            Console.Out.WriteLine(JsonSummary.Write(w =>
            {
                w.WriteString("source", source.Description);
                w.WriteNumber("frames", read);
                w.WriteNumber("seconds", Math.Round(seconds, 3));
                w.WriteNumber("fps", Math.Round(read / seconds, 2));
                w.WriteNumber("cpu_ms_per_frame", Math.Round(cpuMs, 4));
                w.WriteNumber("ffmpeg_cpu_ms_per_frame", Math.Round(childMs, 4));
            }));
        }

        return read > 0 ? 0 : 1;
    }

    private static async ValueTask<bool> ReadOneAsync(IFrameSource source, bool encoded, CancellationToken cancellationToken)
    {
        if (encoded)
        {
            MediaFrame? frame = await ((IEncodedFrameSource)source).ReadEncodedAsync(cancellationToken);
            frame?.Release();
            return frame is not null;
        }

        using VideoFrame? picture = await source.ReadFrameAsync(cancellationToken);
        return picture is not null;
    }
}
