using System.Diagnostics;
using System.Globalization;
using SocketCam.Cli.Output;
using SocketCam.Client;
using SocketCam.Diagnostics;
using SocketCam.Protocol;

namespace SocketCam.Cli.Bench;

/// <summary>What one transport's handshake run measured.</summary>
internal sealed record HandshakeBenchResult(BenchTransport Transport, int Handshakes, double Seconds, double HubCpuMilliseconds, double ClientCpuMilliseconds, LatencySummary Latency)
{
    public double PerSecond => Handshakes / Seconds;

    public double HubCpuPercent => HubCpuMilliseconds / Seconds / 10;
}

/// <summary>
/// `bench --handshakes N`: how many new sessions per second a hub takes, plaintext and TLS. The hub is a `serve` child
/// (<see cref="HubProcess"/>, so its CPU is its own); this process opens N viewer sessions, C at a time, each the whole
/// way (connect, the TLS handshake for tls with the certificate pinned, preface + HELLO → WELCOME, GOODBYE, close).
/// </summary>
internal static class HandshakeBench
{
    private const int WarmupHandshakes = 100;

    public static async Task<int> RunAsync(IReadOnlyList<BenchTransport> transports, int count, int concurrency, bool json, CancellationToken cancellationToken)
    {
        if (transports.Any(t => t is not (BenchTransport.Tcp or BenchTransport.Tls)))
        {
            throw new ArgumentException("--handshakes measures tcp and tls: give --transport tcp, tls or tcp,tls.");
        }

        var results = new List<HandshakeBenchResult>();
        foreach (BenchTransport transport in transports)
        {
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"bench: {count} viewer sessions over {BenchTransports.Name(transport)}, {concurrency} at a time, against a `serve` child"));
            HandshakeBenchResult result = await RunOneAsync(transport, count, concurrency, cancellationToken);
            results.Add(result);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {BenchTransports.Name(result.Transport),-4} {result.PerSecond,7:0} handshakes/s   hub cpu {result.HubCpuMilliseconds / result.Handshakes:0.000} ms each ({result.HubCpuPercent:0}% of a core)   clients cpu {result.ClientCpuMilliseconds / result.Handshakes:0.000} ms each   session open p50 {result.Latency.P50:0.00} ms  p99 {result.Latency.P99:0.00} ms"));
            if (json)
            {
                Console.Out.WriteLine(JsonSummary.Write(w =>
                {
                    w.WriteString("transport", BenchTransports.Name(result.Transport));
                    w.WriteNumber("handshakes", result.Handshakes);
                    w.WriteNumber("concurrency", concurrency);
                    w.WriteNumber("seconds", Math.Round(result.Seconds, 3));
                    w.WriteNumber("handshakes_per_second", Math.Round(result.PerSecond, 1));
                    w.WriteNumber("hub_cpu_ms_per_handshake", Math.Round(result.HubCpuMilliseconds / result.Handshakes, 4));
                    w.WriteNumber("hub_cpu_pct", Math.Round(result.HubCpuPercent, 1));
                    w.WriteNumber("open_p50_ms", Math.Round(result.Latency.P50, 3));
                    w.WriteNumber("open_p99_ms", Math.Round(result.Latency.P99, 3));
                }));
            }
        }

        return 0;
    }

    private static async Task<HandshakeBenchResult> RunOneAsync(BenchTransport transport, int count, int concurrency, CancellationToken cancellationToken)
    {
        string data = Directory.CreateTempSubdirectory("socketcam-bench-handshakes-").FullName;
        try
        {
            bool tls = transport == BenchTransport.Tls;
            await using HubProcess hub = await HubProcess.StartAsync(
                ["--source", "none", "--http", "off", "--udp", "off", "--quiet", "--log-level", "warning", "--max-connections-per-address", "0", "--data", data, .. (string[])(tls ? ["--tls"] : [])],
                cancellationToken);
            var options = new ClientOptions
            {
                Room = "bench-handshakes",
                Reconnect = false,
                Agent = "socketcam bench --handshakes",
                // The certificate serve made in the data directory (read again: the same one), pinned as --fingerprint would.
                Tls = tls ? new TlsClientOptions { Fingerprint = Web.Tls.ServerCertificate.LoadOrCreate(data).Fingerprint } : null,
            };

            await OpenManyAsync(hub, options, WarmupHandshakes, concurrency, null, cancellationToken);
            var latency = new LatencyRecorder();
            TimeSpan hubCpu0 = hub.CpuTime;
            TimeSpan ownCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            long t0 = Stopwatch.GetTimestamp();
            await OpenManyAsync(hub, options, count, concurrency, latency, cancellationToken);
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            return new HandshakeBenchResult(transport, count, seconds, (hub.CpuTime - hubCpu0).TotalMilliseconds,
                (Process.GetCurrentProcess().TotalProcessorTime - ownCpu0).TotalMilliseconds, latency.Summarize());
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>Opens and closes <paramref name="count"/> sessions, <paramref name="concurrency"/> workers each doing one at a time.</summary>
    private static async Task OpenManyAsync(HubProcess hub, ClientOptions options, int count, int concurrency, LatencyRecorder? latency, CancellationToken cancellationToken)
    {
        int next = 0;
        async Task WorkerAsync()
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                long start = Stopwatch.GetTimestamp();
                await using ClientSession session = await ClientSession.ConnectAsync(hub.Endpoint, PeerRole.Viewer, options, cancellationToken);
                latency?.Record(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                await session.CloseAsync();
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Math.Min(concurrency, count)).Select(_ => WorkerAsync()));
    }
}
