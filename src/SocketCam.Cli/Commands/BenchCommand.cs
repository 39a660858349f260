using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SocketCam.Media;
using SocketCam.Cli.Bench;
using SocketCam.Cli.Output;
using SocketCam.Sources;

namespace SocketCam.Cli.Commands;

internal static class BenchCommand
{
    public static Command Create()
    {
        var sources = new SourceOptionSet(defaultFps: 0);
        sources.Source.Description += "; measured instead of the test pattern";
        sources.Fps.Description = "0 = unpaced, for throughput (default); N = paced at N fps, for latency";
        var codec = CommonOptions.Codec();
        sources.Codec = codec;
        var subsampling = CommonOptions.Subsampling();
        var frames = new Option<long>("--frames", "-n") { Description = "Frames to measure (after a warm-up), counted at the slowest viewer", DefaultValueFactory = _ => 2000 };
        var viewers = new Option<int>("--viewers") { Description = "Viewers; the first decodes, the others only check framing", DefaultValueFactory = _ => 1 };
        var sourceOnly = new Option<bool>("--source-only") { Description = "Measure only how fast the source delivers frames (no encoding, no network)" };
        var noDecode = new Option<bool>("--no-decode") { Description = "No viewer decodes (CPU figures are then the capture and sending side's)" };
        var transport = new Option<BenchTransport[]>("--transport")
        {
            HelpName = BenchTransports.Names + "[,...]",
            Description = "tcp (the default), tls, udp, udp+tls or unix, over loopback; several, comma-separated, are run in turn and compared",
            // No default value factory: help would print the enum's name ("Tcp"); unset is tcp.
            CustomParser = r =>
            {
                var parsed = new List<BenchTransport>();
                foreach (string name in r.Tokens[0].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (!BenchTransports.TryParse(name, out BenchTransport one))
                    {
                        r.AddError($"Unknown --transport '{name}': use tcp, tls, udp, udp+tls or unix (several: comma-separated).");
                        return [];
                    }

                    parsed.Add(one);
                }

                return [.. parsed];
            },
        };
        var handshakes = new Option<int>("--handshakes")
        {
            HelpName = "N",
            Description = "Measure handshakes per second instead: N connections, --concurrency at a time, over each --transport (default tcp,tls)",
        };
        var hubProcess = new Option<bool>("--hub-process")
        {
            Description = "Run the hub as a `serve` child process, so its CPU is reported apart from the viewers'",
        };
        var concurrency = new Option<int>("--concurrency") { HelpName = "C", Description = "With --handshakes: connections in flight at once (default 32)", DefaultValueFactory = _ => 32 };
        var participants = new Option<int>("--participants")
        {
            HelpName = "N",
            Description = "Measure a call instead: N participants each publish 640x360@30 and watch the others (--frames default 300)",
        };
        var chatRate = new Option<double>("--chat-rate")
        {
            HelpName = "N",
            Description = "With --participants: each also sends N chat messages per second; reports chat latency",
        };
        var audio = new Option<bool>("--audio")
        {
            Description = "With --participants: each also sends an Opus track and plays the others'; reports audio latency and codec CPU",
        };
        var chat = new Option<int>("--chat")
        {
            HelpName = "N",
            Description = "Measure chat instead: N participants send as fast as the hub stores; reports messages per second and latency",
        };
        var seconds = CommonOptions.Seconds("--chat only; default 20", 20);
        var codecs = new Option<bool>("--codecs")
        {
            Description = "Compare JPEG and H.264 at equal quality (SSIM 0.95 by ffmpeg): bitrates and encode/decode ms; --frames default 90",
        };
        var json = CommonOptions.Json();
        var logLevel = CommonOptions.LogLevel();
        logLevel.DefaultValueFactory = _ => "warning";
        var command = new Command("bench", "Measure encode → send → receive → decode over loopback: fps, MB/s, latency, allocations")
        {
            sources.Size, codec, sources.Quality, subsampling, frames, viewers, sources.Fps, sources.Source, sources.Loop, sources.NoPassthrough, noDecode, transport, hubProcess, handshakes, concurrency, sourceOnly, participants, chatRate, audio, chat, codecs, seconds, json, logLevel,
        };
        command.SetAction((r, ct) => CliHost.RunAsync(r.GetValue(logLevel)!, ct, async (loggers, token) =>
        {
            if (r.GetValue(frames) < 1 || r.GetValue(viewers) < 1)
            {
                throw new ArgumentException("--frames and --viewers must be at least 1.");
            }

            if (r.GetValue(chat) is > 0 and var chatters)
            {
                return await RunChatAsync(chatters, TimeSpan.FromSeconds(r.GetValue(seconds)), r.GetValue(json), token);
            }

            if (r.GetValue(participants) is > 0 and var people)
            {
                if (r.GetValue(chatRate) is < 0 or > 100)
                {
                    throw new ArgumentException("--chat-rate takes 0 to 100 messages per second per participant.");
                }

                return await RunCallAsync(r, people, sources, frames, json, r.GetValue(chatRate), r.GetValue(audio), token);
            }

            if (r.GetValue(codecs))
            {
                (IFrameSource clip, _) = await sources.OpenAsync(r, Media.FrameLimits.DefaultMaxFrameBytes, loggers, token);
                await using IFrameSource measured = clip;
                long clipFrames = r.GetResult(frames) is { Implicit: false } ? r.GetValue(frames) : 90;
                return await CodecBench.RunAsync(measured, (int)Math.Min(clipFrames, 1000), r.GetValue(sources.Fps), 0.95, token);
            }

            BenchTransport[] transports = r.GetValue(transport) is { Length: > 0 } chosen ? chosen : [BenchTransport.Tcp];
            if (r.GetValue(handshakes) is > 0 and var count)
            {
                BenchTransport[] compared = r.GetResult(transport) is null or { Implicit: true } ? [BenchTransport.Tcp, BenchTransport.Tls] : transports;
                return await HandshakeBench.RunAsync(compared, count, Math.Max(1, r.GetValue(concurrency)), r.GetValue(json), token);
            }

            var results = new List<BenchResult>();
            foreach (BenchTransport over in transports)
            {
                // Each run opens its own source: the bench disposes the one it measured.
                (IFrameSource opened, _) = await sources.OpenAsync(r, Media.FrameLimits.DefaultMaxFrameBytes, loggers, token);
                if (r.GetValue(sourceOnly))
                {
                    await using IFrameSource measured = opened;
                    return await SourceBench.RunAsync(measured, r.GetValue(frames), r.GetValue(json), token);
                }

                var settings = new BenchSettings(r.GetValue(sources.Size), r.GetValue(codec), CommonOptions.Jpeg(r.GetValue(sources.Quality), r.GetValue(subsampling)!),
                    r.GetValue(frames), r.GetValue(viewers), r.GetValue(sources.Fps), opened)
                {
                    Decode = !r.GetValue(noDecode),
                    Transport = over,
                    HubProcess = r.GetValue(hubProcess),
                };

                await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"bench: {settings.Size} {CommonOptions.CodecName(settings.Codec)}{(settings.Codec == Media.CodecId.Jpeg ? $" q{settings.Jpeg.Quality}" : "")}, {settings.Viewers} viewer(s) over {BenchTransports.Name(settings.Transport)}, {(settings.Fps > 0 ? $"{settings.Fps} fps paced" : "unpaced")}, {settings.Frames} frames"));
                BenchResult result = await BenchRunner.RunAsync(settings, loggers, line => Console.Error.WriteLine(line), token);
                PrintHuman(result);
                if (r.GetValue(json))
                {
                    Console.Out.WriteLine(ToJson(result));
                }

                results.Add(result);
            }

            if (results.Count > 1)
            {
                PrintComparison(results);
            }

            return 0;
        }));
        return command;
    }

    private static async Task<int> RunChatAsync(int people, TimeSpan duration, bool json, CancellationToken token)
    {
        if (people < 2 || duration <= TimeSpan.Zero)
        {
            throw new ArgumentException("--chat needs at least 2 participants and --seconds above 0.");
        }

        await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"bench: {people} participants chatting in one room for {duration.TotalSeconds:0} s, each with one message awaiting its answer at a time; every message stored (SQLite WAL, synchronous=FULL) and shown to all {people}"));
        ChatBenchResult result = await ChatBench.RunAsync(new ChatBenchSettings(people, duration, 1), line => Console.Error.WriteLine(line), token);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            stored               {result.Stored} messages, {result.StoredPerSecond:0} per second (acknowledged: durable), {result.Refused} refused
            delivered            {result.Delivered} messages shown, {result.DeliveredPerSecond:0} per second ({people} participants each see every message)
            latency              send → stored p50 {result.AckLatency.P50:0.00} ms  p99 {result.AckLatency.P99:0.00} ms;  send → shown p50 {result.DeliveryLatency.P50:0.00} ms  p99 {result.DeliveryLatency.P99:0.00} ms
            integrity            {result.Gaps} missing, {result.Duplicates} twice
            hub                  cpu {result.HubCpuPercent:0}% of one core, working set {result.HubWorkingSetMegabytes:0} MB
            """));
        if (json)
        {
            Console.Out.WriteLine(JsonSummary.Write(w =>
            {
                w.WriteNumber("participants", people);
                w.WriteNumber("seconds", Math.Round(result.Seconds, 3));
                w.WriteNumber("stored", result.Stored);
                w.WriteNumber("stored_per_second", Math.Round(result.StoredPerSecond, 1));
                w.WriteNumber("delivered", result.Delivered);
                w.WriteNumber("delivered_per_second", Math.Round(result.DeliveredPerSecond, 1));
                w.WriteNumber("refused", result.Refused);
                w.WriteNumber("ack_p50_ms", Math.Round(result.AckLatency.P50, 3));
                w.WriteNumber("ack_p99_ms", Math.Round(result.AckLatency.P99, 3));
                w.WriteNumber("delivery_p50_ms", Math.Round(result.DeliveryLatency.P50, 3));
                w.WriteNumber("delivery_p99_ms", Math.Round(result.DeliveryLatency.P99, 3));
                w.WriteNumber("missing", result.Gaps);
                w.WriteNumber("duplicates", result.Duplicates);
                w.WriteNumber("hub_cpu_pct", Math.Round(result.HubCpuPercent, 1));
                w.WriteNumber("hub_working_set_mb", Math.Round(result.HubWorkingSetMegabytes, 1));
            }));
        }

        return result.Gaps == 0 && result.Duplicates == 0 ? 0 : 1;
    }

    private static async Task<int> RunCallAsync(ParseResult r, int people, SourceOptionSet sources, Option<long> frames, Option<bool> json, double chatRate, bool audio, CancellationToken token)
    {
        if (people < 2)
        {
            throw new ArgumentException("--participants needs at least 2 (someone to watch).");
        }

        if (r.GetResult(sources.Source) is { Implicit: false })
        {
            throw new ArgumentException("--participants publishes the test pattern; --source is not used with it.");
        }

        var settings = new ParticipantsBenchSettings(
            people,
            r.GetResult(sources.Size) is null or { Implicit: true } ? new FrameSize(640, 360) : r.GetValue(sources.Size),
            r.GetValue(sources.Fps) is > 0 and var fps ? fps : 30,
            CommonOptions.Jpeg(r.GetValue(sources.Quality), "420"),
            r.GetResult(frames) is null or { Implicit: true } ? 300 : r.GetValue(frames),
            chatRate,
            audio);
        await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"bench: {people} participants in one room, each publishing {settings.Size} jpeg q{settings.Jpeg.Quality} at {settings.Fps} fps{(audio ? " with Opus audio" : "")} and watching{(audio ? " and hearing" : "")} the other {people - 1}: {people * (people - 1)} subscriptions, {settings.Frames} frames on each"));
        ParticipantsBenchResult result = await ParticipantsBench.RunAsync(settings, line => Console.Error.WriteLine(line), token);
        var l = result.Latency;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            subscriptions        {result.Subscriptions} ({people} × {people - 1}), frames of {result.FrameBytes / 1000.0:0.0} kB
            fps per subscription slowest {result.SlowestFps:0.0}   median {result.MedianFps:0.0}   fastest {result.FastestFps:0.0}   (target {settings.Fps:0.##}: {(result.Holds ? "holds" : "does NOT hold")})
            latency              p50 {l.P50:0.00} ms  p99 {l.P99:0.00} ms  max {l.Max:0.00} ms   worst subscriber p99 {result.WorstSubscriberP99:0.00} ms
            skipped frames       {result.Skipped} (newest wins: a subscriber that falls behind skips), of {result.FramesReceived} received
            hub                  cpu {result.HubCpuPercent:0}% of one core, {result.HubCpuMicrosPerDelivery:0.0} µs per delivered frame, working set {result.HubWorkingSetMegabytes:0} MB
            participants         cpu {result.ClientsCpuPercent:0}% of one core (this process: {people} clients sending and receiving)
            """));
        if (result.Audio is { } a)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"audio                {a.PacketsSent} packets sent, {a.PacketsReceived} received; concealed {a.ConcealedShare:P1}"));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"audio latency        first sample → received p50 {a.Transit.P50:0.00} ms  p99 {a.Transit.P99:0.00} ms (a packet is whole 20 ms after its first sample); first sample → played p50 {a.Played.P50:0} ms  p99 {a.Played.P99:0} ms (worst participant)"));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"audio cpu            libopus encode {a.EncodeMicrosPerPacket:0.0} µs per packet; decode + jitter buffer + mix {a.DecodeMicrosPerPacket:0.0} µs per packet played"));
        }

        if (chatRate > 0)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"chat                 {result.ChatSent} sent ({chatRate:0.##}/s each), {result.ChatShown} shown; send → shown p50 {result.ChatLatency.P50:0.00} ms  p99 {result.ChatLatency.P99:0.00} ms  max {result.ChatLatency.Max:0.00} ms"));
        }

        if (r.GetValue(json))
        {
            Console.Out.WriteLine(JsonSummary.Write(w =>
            {
                w.WriteNumber("participants", people);
                w.WriteNumber("subscriptions", result.Subscriptions);
                w.WriteString("size", settings.Size.ToString());
                w.WriteNumber("fps_target", settings.Fps);
                w.WriteNumber("frames", settings.Frames);
                w.WriteNumber("frame_bytes", result.FrameBytes);
                w.WriteNumber("seconds", Math.Round(result.Seconds, 3));
                w.WriteNumber("fps", Math.Round(result.SlowestFps, 2));
                w.WriteNumber("fps_median", Math.Round(result.MedianFps, 2));
                w.WriteNumber("fps_fastest", Math.Round(result.FastestFps, 2));
                w.WriteBoolean("holds", result.Holds);
                JsonSummary.WriteLatency(w, result.Latency);
                w.WriteNumber("latency_p99_worst_subscriber_ms", Math.Round(result.WorstSubscriberP99, 3));
                w.WriteNumber("skipped", result.Skipped);
                w.WriteNumber("frames_sent", result.FramesSent);
                w.WriteNumber("frames_received", result.FramesReceived);
                w.WriteNumber("hub_cpu_pct", Math.Round(result.HubCpuPercent, 1));
                w.WriteNumber("hub_cpu_us_per_delivery", Math.Round(result.HubCpuMicrosPerDelivery, 2));
                w.WriteNumber("hub_working_set_mb", Math.Round(result.HubWorkingSetMegabytes, 1));
                w.WriteNumber("clients_cpu_pct", Math.Round(result.ClientsCpuPercent, 1));
                if (result.Audio is { } a)
                {
                    w.WriteNumber("audio_packets_sent", a.PacketsSent);
                    w.WriteNumber("audio_packets_received", a.PacketsReceived);
                    w.WriteNumber("audio_concealed_share", Math.Round(a.ConcealedShare, 4));
                    w.WriteNumber("audio_transit_p50_ms", Math.Round(a.Transit.P50, 3));
                    w.WriteNumber("audio_transit_p99_ms", Math.Round(a.Transit.P99, 3));
                    w.WriteNumber("audio_played_p50_ms", Math.Round(a.Played.P50, 3));
                    w.WriteNumber("audio_played_p99_ms", Math.Round(a.Played.P99, 3));
                    w.WriteNumber("audio_encode_us_per_packet", Math.Round(a.EncodeMicrosPerPacket, 2));
                    w.WriteNumber("audio_decode_us_per_packet", Math.Round(a.DecodeMicrosPerPacket, 2));
                }

                if (chatRate > 0)
                {
                    w.WriteNumber("chat_rate", chatRate);
                    w.WriteNumber("chat_sent", result.ChatSent);
                    w.WriteNumber("chat_shown", result.ChatShown);
                    w.WriteNumber("chat_p50_ms", Math.Round(result.ChatLatency.P50, 3));
                    w.WriteNumber("chat_p99_ms", Math.Round(result.ChatLatency.P99, 3));
                }
            }));
        }

        return 0;
    }

    /// <summary>Several transports in one run: one line each, side by side (CPU is this whole process: capture, hub and viewers).</summary>
    private static void PrintComparison(IReadOnlyList<BenchResult> results)
    {
        Console.Error.WriteLine($"comparison ({results[0].Settings.Viewers} viewers, same run):");
        bool hubApart = results[0].HubCpuMillisecondsPerFrame is not null;
        Console.Error.WriteLine(hubApart
            ? "  transport  slowest fps  fastest fps  total MB/s  hub cpu ms/frame  hub cpu % of a core  viewers cpu % of a core  worst p99 ms"
            : "  transport  slowest fps  fastest fps  total MB/s  cpu ms/frame  cpu % of a core  worst p99 ms   (cpu: this process: capture, hub and viewers)");
        foreach (BenchResult r in results)
        {
            double cpuPercent = r.Seconds > 0 ? r.CpuMillisecondsPerFrame * r.FramesPublished / r.Seconds / 10 : 0;
            Console.Error.WriteLine(hubApart
                ? string.Create(CultureInfo.InvariantCulture,
                    $"  {BenchTransports.Name(r.Settings.Transport),-9}  {r.SlowestFps,11:0.0}  {r.FastestFps,11:0.0}  {r.TotalMegabytesPerSecond,10:0.0}  {r.HubCpuMillisecondsPerFrame,16:0.000}  {r.HubCpuPercent,19:0}  {cpuPercent,23:0}  {r.WorstViewerP99,12:0.00}")
                : string.Create(CultureInfo.InvariantCulture,
                    $"  {BenchTransports.Name(r.Settings.Transport),-9}  {r.SlowestFps,11:0.0}  {r.FastestFps,11:0.0}  {r.TotalMegabytesPerSecond,10:0.0}  {r.CpuMillisecondsPerFrame,12:0.000}  {cpuPercent,15:0}  {r.WorstViewerP99,12:0.00}"));
        }
    }

    private static void PrintHuman(BenchResult r)
    {
        var l = r.Latency;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            source               {r.SourceDescription}
            transport            {BenchTransports.Name(r.Settings.Transport)}
            fps (slowest viewer) {r.SlowestFps:0.0}   fastest {r.FastestFps:0.0}
            cpu                  {CpuLine(r)}
            throughput           {r.SlowestMegabytesPerSecond:0.0} MB/s per viewer, {r.TotalMegabytesPerSecond:0.0} MB/s total
            latency (viewer 1)   p50 {l.P50:0.00} ms  p99 {l.P99:0.00} ms  max {l.Max:0.00} ms   worst viewer p99 {r.WorstViewerP99:0.00} ms
            skipped frames       {r.Dropped} (sum over viewers), corrupt {r.Corrupt}{LinkLine(r)}
            """));
        if (r.HubCpuMillisecondsPerFrame is null)
        {
            // In process only: with --hub-process the hub's allocations are another process's.
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
                allocated            {r.AllocatedBytesPerFrame:0} bytes per frame (whole process: capture, hub and viewers)
                memory               heap {r.HeapStartMegabytes:0.0} → {r.HeapEndMegabytes:0.0} MB, working set {r.WorkingSetStartMegabytes:0} → {r.WorkingSetEndMegabytes:0} MB, GCs {r.Gen0}/{r.Gen1}/{r.Gen2}
                """));
        }
    }

    private static string CpuLine(BenchResult r) => r.HubCpuMillisecondsPerFrame is { } hubMs
        ? string.Create(CultureInfo.InvariantCulture, $"hub (serve child) {hubMs:0.000} ms per frame, {r.HubCpuPercent:0}% of a core, working set {r.HubWorkingSetMegabytes:0} MB; viewers {r.CpuMillisecondsPerFrame:0.000} ms per frame in this process")
        : string.Create(CultureInfo.InvariantCulture, $"{r.CpuMillisecondsPerFrame:0.000} ms per frame in this process, {r.ChildCpuMillisecondsPerFrame:0.000} ms in ffmpeg");

    private static string LinkLine(BenchResult r) => r.Link is { } link
        ? string.Create(CultureInfo.InvariantCulture, $"\nudp link             loss {link.LossPercent:0.00}%, recovered {link.Recovered} fragments, {link.FramesLost} frames lost, recovery overhead {r.RecoveryPercent:0.0}%")
        : "";

    public static string ToJson(BenchResult r) => JsonSummary.Write(w =>
    {
        w.WriteString("size", r.Settings.Size.ToString());
        w.WriteString("codec", CommonOptions.CodecName(r.Settings.Codec));
        w.WriteString("transport", BenchTransports.Name(r.Settings.Transport));
        if (r.Link is { } link)
        {
            // UDP: "loss_pct", "recovered", "frames_lost" as in view --json, and what recovery cost. Stream transports lose nothing.
            JsonSummary.WriteLink(w, link);
            w.WriteNumber("recovery_overhead_pct", Math.Round(r.RecoveryPercent, 2));
        }
        w.WriteNumber("quality", r.Settings.Jpeg.Quality);
        w.WriteNumber("viewers", r.Settings.Viewers);
        w.WriteNumber("fps_target", r.Settings.Fps);
        w.WriteNumber("frames", r.FramesMeasured);
        w.WriteNumber("frames_published", r.FramesPublished);
        w.WriteNumber("seconds", Math.Round(r.Seconds, 3));
        w.WriteNumber("fps", Math.Round(r.SlowestFps, 2));
        w.WriteNumber("fps_fastest", Math.Round(r.FastestFps, 2));
        w.WriteNumber("mb_per_s", Math.Round(r.SlowestMegabytesPerSecond, 2));
        w.WriteNumber("mb_per_s_total", Math.Round(r.TotalMegabytesPerSecond, 2));
        JsonSummary.WriteLatency(w, r.Latency);
        w.WriteNumber("latency_p99_worst_viewer_ms", Math.Round(r.WorstViewerP99, 3));
        w.WriteNumber("dropped", r.Dropped);
        w.WriteNumber("corrupt", r.Corrupt);
        w.WriteString("source", r.SourceDescription);
        w.WriteNumber("cpu_ms_per_frame", Math.Round(r.CpuMillisecondsPerFrame, 4));
        if (r.HubCpuMillisecondsPerFrame is { } hubMs)
        {
            w.WriteNumber("hub_cpu_ms_per_frame", Math.Round(hubMs, 4));
            w.WriteNumber("hub_cpu_pct", Math.Round(r.HubCpuPercent, 1));
            w.WriteNumber("hub_working_set_mb", Math.Round(r.HubWorkingSetMegabytes, 1));
        }

        w.WriteNumber("ffmpeg_cpu_ms_per_frame", Math.Round(r.ChildCpuMillisecondsPerFrame, 4));
        w.WriteNumber("alloc_bytes_per_frame", Math.Round(r.AllocatedBytesPerFrame, 1));
        w.WriteStartObject("memory_mb");
        w.WriteNumber("heap_start", Math.Round(r.HeapStartMegabytes, 1));
        w.WriteNumber("heap_end", Math.Round(r.HeapEndMegabytes, 1));
        w.WriteNumber("working_set_start", Math.Round(r.WorkingSetStartMegabytes, 1));
        w.WriteNumber("working_set_end", Math.Round(r.WorkingSetEndMegabytes, 1));
        w.WriteEndObject();
        w.WriteStartObject("gc");
        w.WriteNumber("gen0", r.Gen0);
        w.WriteNumber("gen1", r.Gen1);
        w.WriteNumber("gen2", r.Gen2);
        w.WriteEndObject();
    });
}
