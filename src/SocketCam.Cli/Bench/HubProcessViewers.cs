using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using SocketCam.Client;

namespace SocketCam.Cli.Bench;

/// <summary>
/// `bench --viewers N --hub-process`: the same viewers, but the hub (its capture of the test pattern included) is a
/// `serve` child (<see cref="HubProcess"/>), so its CPU is measured apart from the viewers': what TLS costs the hub.
/// tcp and tls only (serve --tls for tls, the viewers pinning its certificate).
/// </summary>
internal static class HubProcessViewers
{
    public static async Task<BenchResult> RunAsync(BenchSettings settings, ILoggerFactory loggers, Action<string>? progress, CancellationToken cancellationToken)
    {
        if (settings.Transport is not (BenchTransport.Tcp or BenchTransport.Tls))
        {
            throw new ArgumentException("--hub-process runs tcp and tls (give --transport tcp, tls or tcp,tls).");
        }

        // The child captures the pattern itself: the source opened here is not used.
        await settings.Source.DisposeAsync();
        string data = Directory.CreateTempSubdirectory("socketcam-bench-viewers-").FullName;
        try
        {
            bool tls = settings.Transport == BenchTransport.Tls;
            await using HubProcess hub = await HubProcess.StartAsync(
                ["--source", "pattern", "--size", settings.Size.ToString(), "--fps", settings.Fps.ToString(CultureInfo.InvariantCulture), "--room", "bench",
                 "--codec", Media.CodecIds.Name(settings.Codec), "--quality", settings.Jpeg.Quality.ToString(CultureInfo.InvariantCulture),
                 "--max-participants", (settings.Viewers + 16).ToString(CultureInfo.InvariantCulture),
                 "--http", "off", "--udp", "off", "--quiet", "--log-level", "warning", "--max-connections-per-address", "0", "--data", data, .. (string[])(tls ? ["--tls"] : [])],
                cancellationToken);
            TlsClientOptions? pin = tls ? new TlsClientOptions { Fingerprint = Web.Tls.ServerCertificate.LoadOrCreate(data).Fingerprint } : null;
            return await MeasureAsync(settings, hub, pin, loggers, progress, cancellationToken);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task<BenchResult> MeasureAsync(BenchSettings settings, HubProcess hub, TlsClientOptions? pin, ILoggerFactory loggers, Action<string>? progress, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var viewers = new ViewerClient[settings.Viewers];
        var tasks = new List<Task> { hub.WaitForUnexpectedExitAsync(stop.Token) };
        for (int i = 0; i < viewers.Length; i++)
        {
            viewers[i] = new ViewerClient(hub.Endpoint, new ViewerOptions { Room = "bench", Participant = settings.Codec == Media.CodecId.H264 ? "hub" : null, Decode = i == 0 && settings.Decode, Reconnect = false, Agent = $"bench viewer {i}", Tls = pin }, loggers);
            tasks.Add(viewers[i].RunAsync(stop.Token));
        }

        try
        {
            await BenchRunner.WaitUntilAsync(() => viewers.All(v => v.Stats.Frames >= settings.WarmupFrames), tasks, TimeSpan.FromMinutes(2), "warm-up", stop.Token);
            progress?.Invoke($"warm-up done ({settings.WarmupFrames} frames per viewer); measuring {settings.Frames} frames...");
            foreach (ViewerClient v in viewers)
            {
                v.Stats.ResetLatency();
            }

            long[] frames0 = viewers.Select(v => v.Stats.Frames).ToArray();
            long[] bytes0 = viewers.Select(v => v.Stats.Bytes).ToArray();
            long dropped0 = viewers.Sum(v => v.Stats.Dropped);
            TimeSpan hubCpu0 = hub.CpuTime;
            TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            long t0 = Stopwatch.GetTimestamp();
            await BenchRunner.WaitForMeasuredFramesAsync(viewers, frames0, settings, t0, tasks, stop.Token, progress);

            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            double hubCpuMs = (hub.CpuTime - hubCpu0).TotalMilliseconds;
            double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds;
            double[] fps = viewers.Select((v, i) => (v.Stats.Frames - frames0[i]) / seconds).ToArray();
            double[] mbps = viewers.Select((v, i) => (v.Stats.Bytes - bytes0[i]) / seconds / 1e6).ToArray();
            int slowest = Array.IndexOf(fps, fps.Min());
            // Frames the hub sent, as the fastest viewer saw them (the child's room counter is not visible from here).
            long published = (long)(fps.Max() * seconds);
            return new BenchResult(settings, BenchRunner.SlowestFrames(viewers, frames0), published, seconds, fps.Min(), fps.Max(), mbps[slowest], mbps.Sum(),
                viewers[0].Stats.Latency, viewers.Max(v => v.Stats.Latency.P99), viewers.Sum(v => v.Stats.Dropped) - dropped0, viewers.Sum(v => v.Stats.Corrupt),
                0, 0, 0, 0, 0, 0, 0, 0,
                published > 0 ? cpuMs / published : 0, 0, $"test pattern {settings.Size} in a `serve` child")
            {
                HubCpuMillisecondsPerFrame = published > 0 ? hubCpuMs / published : 0,
                HubCpuPercent = hubCpuMs / seconds / 10,
                HubWorkingSetMegabytes = hub.WorkingSetMegabytes,
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
}
