using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Cli.Bench;

/// <param name="Source">The opened source to measure (the pattern or an ffmpeg source); the bench disposes it.</param>
internal sealed record BenchSettings(FrameSize Size, CodecId Codec, JpegOptions Jpeg, long Frames, int Viewers, double Fps, IFrameSource Source)
{
    /// <summary>False: no viewer decodes (every viewer only checks framing), so CPU figures are the sending side's.</summary>
    public bool Decode { get; init; } = true;

    /// <summary>What the viewers connect over; default TCP on loopback.</summary>
    public BenchTransport Transport { get; init; } = BenchTransport.Tcp;

    /// <summary>The hub in a `serve` child, so its CPU is its own (<see cref="HubProcessViewers"/>); default false (in process).</summary>
    public bool HubProcess { get; init; }

    /// <summary>Frames each viewer must receive before measuring starts (JIT, socket buffers, pools warm up).</summary>
    public long WarmupFrames => Fps > 0 ? Math.Max(10, (long)Fps) : Math.Max(20, Math.Min(200, Frames / 10));
}

internal sealed record BenchResult(
    BenchSettings Settings,
    long FramesMeasured,
    long FramesPublished,
    double Seconds,
    double SlowestFps,
    double FastestFps,
    double SlowestMegabytesPerSecond,
    double TotalMegabytesPerSecond,
    LatencySummary Latency,
    double WorstViewerP99,
    long Dropped,
    long Corrupt,
    double AllocatedBytesPerFrame,
    double HeapStartMegabytes,
    double HeapEndMegabytes,
    double WorkingSetStartMegabytes,
    double WorkingSetEndMegabytes,
    int Gen0,
    int Gen1,
    int Gen2,
    double CpuMillisecondsPerFrame,
    double ChildCpuMillisecondsPerFrame,
    string SourceDescription)
{
    /// <summary>UDP: the viewers' link figures (loss, recovery), summed; null for stream transports.</summary>
    public Udp.UdpLinkStats? Link { get; init; }

    /// <summary>UDP: parity and resent bytes the hub sent, as a share of the picture bytes.</summary>
    public double RecoveryPercent { get; init; }

    /// <summary>--hub-process: the hub child's CPU per frame sent (capture included), its share of a core and its memory; null in process.</summary>
    public double? HubCpuMillisecondsPerFrame { get; init; }

    public double HubCpuPercent { get; init; }

    public double HubWorkingSetMegabytes { get; init; }
}

/// <summary>
/// encode → send → receive → decode over loopback, all real: the hub's capture pipeline with the test pattern,
/// real sockets (TCP on loopback, plaintext or TLS, UDP, or a Unix socket: <see cref="BenchSettings.Transport"/>), and N viewers (the first decodes; the rest check framing only, like a load generator).
/// </summary>
internal static class BenchRunner
{
    public static async Task<BenchResult> RunAsync(BenchSettings settings, ILoggerFactory loggers, Action<string>? progress, CancellationToken cancellationToken)
    {
        if (settings.HubProcess)
        {
            return await HubProcessViewers.RunAsync(settings, loggers, progress, cancellationToken);
        }

        // All viewers come from 127.0.0.1: the per-address cap that protects a real hub would stop the bench at 64.
        HubOptions hubOptions = BenchTransports.HubOptions(settings.Transport, BenchTransports.TemporarySocketPath()) with
        {
            Sessions = new() { IdleTimeout = TimeSpan.FromMinutes(5) },
            Limits = new Limits.LimitOptions { MaxConnectionsPerAddress = 0 },
            Rooms = new RoomLimits { MaxParticipants = settings.Viewers + 16 },
        };
        await using var hub = new HubServer(hubOptions, loggers);
        hub.Start();
        StreamEndpoint endpoint = BenchTransports.Endpoint(settings.Transport, hub);
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(settings.Codec, settings.Jpeg, fps: settings.Fps > 0 ? settings.Fps : 30);
        // H.264 goes to stream viewers as protocol v2 (v1 viewers would get the hub's JPEG transcoding); UDP viewers take it as it is.
        string? participant = settings.Codec == CodecId.H264 && settings.Transport is not (BenchTransport.Udp or BenchTransport.UdpTls) ? "hub" : null;
        await using IFrameSource source = settings.Source;
        Room room = hub.GetOrCreateRoom("bench");
        var pipeline = new CapturePipeline(source, encoder, room, loggers.CreateLogger("SocketCam.Capture"));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var viewers = new ViewerClient[settings.Viewers];
        var tasks = new List<Task>();
        for (int i = 0; i < viewers.Length; i++)
        {
            viewers[i] = new ViewerClient(endpoint, new ViewerOptions { Room = "bench", Participant = participant, Decode = i == 0 && settings.Decode, Reconnect = false, Agent = $"bench viewer {i}", Tls = BenchTransports.ClientTls(settings.Transport) }, loggers);
            tasks.Add(viewers[i].RunAsync(stop.Token));
        }

        Task capture = pipeline.RunAsync(stop.Token);
        tasks.Add(capture);
        try
        {
            // Warm up until every viewer is receiving.
            await WaitUntilAsync(() => viewers.All(v => v.Stats.Frames >= settings.WarmupFrames), tasks, TimeSpan.FromMinutes(2), "warm-up", stop.Token);
            progress?.Invoke($"warm-up done ({settings.WarmupFrames} frames per viewer); measuring {settings.Frames} frames...");

            foreach (ViewerClient v in viewers)
            {
                v.Stats.ResetLatency();
            }

            long[] frames0 = viewers.Select(v => v.Stats.Frames).ToArray();
            long[] bytes0 = viewers.Select(v => v.Stats.Bytes).ToArray();
            long dropped0 = viewers.Sum(v => v.Stats.Dropped);
            long published0 = room.FramesPublished;
            int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
            double heap0 = GC.GetTotalMemory(false) / 1e6;
            double ws0 = Process.GetCurrentProcess().WorkingSet64 / 1e6;
            long alloc0 = GC.GetTotalAllocatedBytes(precise: true);
            TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            TimeSpan child0 = ChildCpu(source);
            long t0 = Stopwatch.GetTimestamp();

            await WaitForMeasuredFramesAsync(viewers, frames0, settings, t0, tasks, stop.Token, progress);

            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds;
            double childMs = (ChildCpu(source) - child0).TotalMilliseconds;
            long alloc1 = GC.GetTotalAllocatedBytes(precise: true);

            long published = room.FramesPublished - published0;
            double[] fps = viewers.Select((v, i) => (v.Stats.Frames - frames0[i]) / seconds).ToArray();
            double[] mbps = viewers.Select((v, i) => (v.Stats.Bytes - bytes0[i]) / seconds / 1e6).ToArray();
            int slowest = Array.IndexOf(fps, fps.Min());
            return new BenchResult(
                settings,
                SlowestFrames(viewers, frames0),
                published,
                seconds,
                fps.Min(),
                fps.Max(),
                mbps[slowest],
                mbps.Sum(),
                viewers[0].Stats.Latency,
                viewers.Max(v => v.Stats.Latency.P99),
                viewers.Sum(v => v.Stats.Dropped) - dropped0,
                viewers.Sum(v => v.Stats.Corrupt),
                published > 0 ? (alloc1 - alloc0) / (double)published : 0,
                heap0,
                GC.GetTotalMemory(false) / 1e6,
                ws0,
                Process.GetCurrentProcess().WorkingSet64 / 1e6,
                GC.CollectionCount(0) - gen0,
                GC.CollectionCount(1) - gen1,
                GC.CollectionCount(2) - gen2,
                published > 0 ? cpuMs / published : 0,
                published > 0 ? childMs / published : 0,
                source.Description)
            {
                Link = viewers.Select(v => v.Stats.Link).OfType<Udp.UdpLinkStats>().Aggregate((Udp.UdpLinkStats?)null, (sum, l) => sum?.Add(l) ?? l),
                RecoveryPercent = RecoveryPercent(hub),
            };
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(tasks).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            foreach (ViewerClient v in viewers)
            {
                v?.Dispose();
            }
        }
    }

    private static double RecoveryPercent(HubServer hub)
    {
        UdpViewerSession[] sessions = hub.Udp?.Sessions.OfType<UdpViewerSession>().ToArray() ?? [];
        long data = sessions.Sum(s => s.Sender.DataBytes);
        return data == 0 ? 0 : 100.0 * sessions.Sum(s => s.Sender.RecoveryBytes) / data;
    }

    /// <summary>CPU time of the ffmpeg child behind an ffmpeg source (zero for in-process sources).</summary>
    internal static TimeSpan ChildCpu(IFrameSource source)
    {
        if (source is not Sources.Ffmpeg.FfmpegSource { ProcessId: > 0 and var pid })
        {
            return TimeSpan.Zero;
        }

        try
        {
            using Process child = Process.GetProcessById(pid);
            return child.TotalProcessorTime;
        }
        catch (ArgumentException)
        {
            return TimeSpan.Zero; // it exited
        }
        catch (InvalidOperationException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>Polls <paramref name="done"/> until true; a task that ends first surfaces its failure, a time limit ends the wait.</summary>
    /// <summary>Waits until the slowest viewer has <see cref="BenchSettings.Frames"/> frames since <paramref name="frames0"/>, reporting progress.</summary>
    internal static Task WaitForMeasuredFramesAsync(ViewerClient[] viewers, long[] frames0, BenchSettings settings, long t0, List<Task> tasks, CancellationToken cancellationToken, Action<string>? progress)
    {
        long Slowest() => SlowestFrames(viewers, frames0);
        TimeSpan limit = settings.Fps > 0 ? TimeSpan.FromSeconds((settings.Frames / settings.Fps * 2) + 30) : TimeSpan.FromMinutes(10);
        return WaitUntilAsync(() => Slowest() >= settings.Frames, tasks, limit, "measurement", cancellationToken, () =>
            string.Create(CultureInfo.InvariantCulture, $"  {Slowest()}/{settings.Frames} frames, {Slowest() / Stopwatch.GetElapsedTime(t0).TotalSeconds:0.0} fps (slowest viewer)"), progress);
    }

    /// <summary>The frames the slowest viewer received since <paramref name="frames0"/>.</summary>
    internal static long SlowestFrames(ViewerClient[] viewers, long[] frames0)
    {
        // A plain loop: the bench polls this often and must not add allocations to what it measures.
        long min = long.MaxValue;
        for (int i = 0; i < viewers.Length; i++)
        {
            min = Math.Min(min, viewers[i].Stats.Frames - frames0[i]);
        }

        return min;
    }

    internal static async Task WaitUntilAsync(Func<bool> done, List<Task> tasks, TimeSpan limit, string phase, CancellationToken cancellationToken, Func<string>? status = null, Action<string>? progress = null)
    {
        long start = Stopwatch.GetTimestamp();
        long lastReport = start;
        while (!done())
        {
            if (tasks.FirstOrDefault(t => t.IsCompleted) is { } ended)
            {
                await ended; // Surfaces the failure of a viewer or of the capture.
                throw new UserFacingException($"A bench participant stopped during {phase}.");
            }

            if (Stopwatch.GetElapsedTime(start) > limit)
            {
                throw new TimeoutException($"The bench did not finish its {phase} within {limit.TotalSeconds:0} s.");
            }

            await Task.Delay(20, cancellationToken);
            if (status is not null && progress is not null && Stopwatch.GetElapsedTime(lastReport) > TimeSpan.FromSeconds(1))
            {
                lastReport = Stopwatch.GetTimestamp();
                progress(status());
            }
        }
    }
}
