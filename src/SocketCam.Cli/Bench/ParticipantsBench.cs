using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using SocketCam.Audio;
using SocketCam.Audio.Opus;
using SocketCam.Client;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Sources;

namespace SocketCam.Cli.Bench;

/// <param name="Frames">Frames to measure, counted at the slowest subscription (after the warm-up).</param>
/// <param name="ChatRate">Chat messages each participant sends per second while the video runs (0: no chat; the hub then keeps none).</param>
internal sealed record ParticipantsBenchSettings(int Participants, FrameSize Size, double Fps, JpegOptions Jpeg, long Frames, double ChatRate = 0, bool Audio = false);

/// <summary>
/// `bench --participants N --audio`: every participant also encodes a tone with libopus (20 ms packets, 32 kbit/s) and
/// plays everyone else's through its own jitter buffers and mixer on 10 ms ticks, as `call` does (into no device).
/// </summary>
internal sealed record AudioBenchFigures(
    long PacketsSent,
    long PacketsReceived,
    double ConcealedShare,
    LatencySummary Transit,
    LatencySummary Played,
    double EncodeMicrosPerPacket,
    double DecodeMicrosPerPacket);

internal sealed record ParticipantsBenchResult(
    ParticipantsBenchSettings Settings,
    double Seconds,
    int Subscriptions,
    double SlowestFps,
    double MedianFps,
    double FastestFps,
    LatencySummary Latency,
    double WorstSubscriberP99,
    long Skipped,
    long FramesSent,
    long FramesReceived,
    int FrameBytes,
    double HubCpuPercent,
    double HubCpuMicrosPerDelivery,
    double HubWorkingSetMegabytes,
    double ClientsCpuPercent,
    long ChatSent,
    long ChatShown,
    LatencySummary ChatLatency,
    AudioBenchFigures? Audio)
{
    /// <summary>Every subscription kept up: the slowest got at least the target rate less one frame per second.</summary>
    public bool Holds => SlowestFps >= Settings.Fps - 1;
}

/// <summary>
/// `bench --participants N`: a video call's load. N protocol v2 participants join one room of a real hub (`socketcam
/// serve` as a child process, so its CPU is its own), each publishes a video track at the target rate and subscribes to
/// every other participant's: N × (N − 1) subscriptions. Frames are the test pattern, JPEG-encoded once before
/// measuring and replayed with fresh capture times, so the encoder's cost does not crowd out the hub's on a small machine.
/// Latency is capture → received by the subscriber, on this process's one clock.
/// </summary>
internal static class ParticipantsBench
{
    private const string Room = "bench-call";
    private const int DistinctFrames = 30;

    public static async Task<ParticipantsBenchResult> RunAsync(ParticipantsBenchSettings settings, Action<string>? progress, CancellationToken cancellationToken)
    {
        (FrameInfo Info, byte[] Data)[] frames = await EncodeFramesAsync(settings, cancellationToken);
        // With chat, the hub keeps it as serve always does (SQLite, fsync per commit), in a directory of the bench's own.
        string? data = settings.ChatRate > 0 ? Directory.CreateTempSubdirectory("socketcam-bench-call-").FullName : null;
        try
        {
            await using HubProcess hub = await HubProcess.StartAsync(
                ["--source", "none", "--http", "off", "--udp", "off", "--quiet", "--log-level", "warning", "--max-connections-per-address", "0",
                 "--max-participants", Math.Max(64, settings.Participants).ToString(CultureInfo.InvariantCulture),
                 "--data", data ?? "off", "--chat-rate", Math.Max(2, settings.ChatRate * 2).ToString(CultureInfo.InvariantCulture), "--chat-history", "0"], cancellationToken);
            return await RunCallAsync(hub, frames, settings, progress, cancellationToken);
        }
        finally
        {
            if (data is not null)
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(data, recursive: true);
            }
        }
    }

    private static async Task<ParticipantsBenchResult> RunCallAsync(HubProcess hub, (FrameInfo Info, byte[] Data)[] frames, ParticipantsBenchSettings settings, Action<string>? progress, CancellationToken cancellationToken)
    {
        var options = new ClientOptions { Room = Room, Reconnect = false, Agent = "socketcam bench --participants", IdleTimeout = TimeSpan.FromMinutes(5) };
        int n = settings.Participants;
        var people = new Person[n];
        var call = new Call(n);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = new List<Task>();
        try
        {
            for (int i = 0; i < n; i++)
            {
                var chat = settings.ChatRate > 0 ? new ChatChannel() : null;
                RoomClient client = await RoomClient.ConnectAsync(hub.Endpoint, options, $"p{i + 1}", hidden: false, cancellationToken, chat);
                people[i] = new Person(i, client, call);
                if (chat is not null)
                {
                    chat.Shown = call.OnChatShown;
                }

                call.Indexes[client.ParticipantId] = i; // read by OnFrame, which runs only once someone subscribes (below)
                // Reading from the start: the events of everyone joining after it must not pile up in its control queue.
                client.FrameReceived = people[i].OnFrame;
                tasks.Add(client.ReceiveAsync((int)Math.Min(client.Welcome.MaxFrameBytes, (uint)options.MaxFrameBytes), stop.Token));
            }

            foreach (Person p in people)
            {
                var track = new TrackDescription(1, TrackKind.Video, CodecId.Jpeg, TrackSource.Synthetic, "camera",
                    (ushort)settings.Size.Width, (ushort)settings.Size.Height, (uint)(settings.Fps * 1000));
                Expect(await p.Client.PublishAsync(track, cancellationToken), "PUBLISH");
                if (settings.Audio)
                {
                    var sound = new TrackDescription(2, TrackKind.Audio, CodecId.Opus, TrackSource.Synthetic, "tone", A: 1, Rate: 48_000, PacketMicros: 20_000, Bitrate: 32_000, Flags: 3);
                    Expect(await p.Client.PublishAsync(sound, cancellationToken), "PUBLISH (audio)");
                }
            }

            foreach (Person p in people)
            {
                Expect(await p.Client.SubscribeAsync(ProtocolV2.AnyParticipant, ProtocolV2.AnyTrack, cancellationToken), "SUBSCRIBE");
            }

            // Publishers start a frame interval apart from each other, like people who joined at different moments.
            for (int i = 0; i < n; i++)
            {
                tasks.Add(people[i].SendLoopAsync(frames, settings.Fps, TimeSpan.FromSeconds(i / settings.Fps / n), stop.Token));
                if (settings.Audio)
                {
                    tasks.Add(people[i].AudioLoopAsync(stop.Token));
                    tasks.Add(people[i].PlayLoopAsync(stop.Token));
                }

                if (settings.ChatRate > 0)
                {
                    tasks.Add(people[i].ChatLoopAsync(settings.ChatRate, TimeSpan.FromSeconds(i / settings.ChatRate / n), stop.Token));
                }
            }

            tasks.Add(hub.WaitForUnexpectedExitAsync(stop.Token));
            long warmup = Math.Max(10, (long)settings.Fps);
            await BenchRunner.WaitUntilAsync(() => Slowest(people, null) >= warmup, tasks, TimeSpan.FromSeconds(60), "warm-up", stop.Token);
            progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"warm-up done ({warmup} frames on every subscription); measuring {settings.Frames} frames..."));

            long[][] start = people.Select(p => p.Snapshot()).ToArray();
            foreach (Person p in people)
            {
                p.Latency.Reset();
            }

            call.Latency.Reset();
            call.ChatLatency.Reset();
            call.AudioTransit.Reset();
            foreach (Person p in people)
            {
                p.ResetAudio();
            }
            long chatSent0 = people.Sum(p => Interlocked.Read(ref p.ChatSent));
            long chatShown0 = Interlocked.Read(ref call.ChatShown);

            long skipped0 = people.Sum(p => Interlocked.Read(ref p.Skipped));
            long sent0 = people.Sum(p => Interlocked.Read(ref p.Sent));
            TimeSpan hubCpu0 = hub.CpuTime;
            TimeSpan ownCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            long t0 = Stopwatch.GetTimestamp();
            TimeSpan limit = TimeSpan.FromSeconds((settings.Frames / settings.Fps * 2) + 30);
            await BenchRunner.WaitUntilAsync(() => Slowest(people, start) >= settings.Frames, tasks, limit, "measurement", stop.Token,
                () => string.Create(CultureInfo.InvariantCulture, $"  {Slowest(people, start)}/{settings.Frames} frames, {Slowest(people, start) / Stopwatch.GetElapsedTime(t0).TotalSeconds:0.0} fps (slowest subscription)"),
                progress);

            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            double hubCpuMs = (hub.CpuTime - hubCpu0).TotalMilliseconds;
            double ownCpuMs = (Process.GetCurrentProcess().TotalProcessorTime - ownCpu0).TotalMilliseconds;
            double[] fps = people.SelectMany((p, i) => p.Received(start[i]).Select(c => c / seconds)).Order().ToArray();
            long received = people.Select((p, i) => p.Received(start[i]).Sum()).Sum();
            return new ParticipantsBenchResult(
                settings,
                seconds,
                fps.Length,
                fps[0],
                fps[fps.Length / 2],
                fps[^1],
                call.Latency.Summarize(),
                people.Max(p => p.Latency.Summarize().P99),
                people.Sum(p => Interlocked.Read(ref p.Skipped)) - skipped0,
                people.Sum(p => Interlocked.Read(ref p.Sent)) - sent0,
                received,
                (int)frames.Average(f => f.Data.Length),
                100 * hubCpuMs / (seconds * 1000),
                received > 0 ? hubCpuMs * 1000 / received : 0,
                hub.WorkingSetMegabytes,
                100 * ownCpuMs / (seconds * 1000),
                people.Sum(p => Interlocked.Read(ref p.ChatSent)) - chatSent0,
                Interlocked.Read(ref call.ChatShown) - chatShown0,
                call.ChatLatency.Summarize(),
                settings.Audio ? AudioFigures(people, call) : null);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(tasks).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            foreach (Person? p in people)
            {
                if (p is not null)
                {
                    await p.Client.DisposeAsync();
                }
            }
        }
    }

    private static AudioBenchFigures AudioFigures(Person[] people, Call call)
    {
        long concealed = 0, played = 0;
        foreach (Person p in people)
        {
            foreach ((_, JitterStats stats) in p.Mixer!.Stats())
            {
                concealed += stats.Concealed;
                played += stats.Decoded + stats.Recovered + stats.Concealed;
            }
        }

        // Each participant's own player: the median participant's p50, the worst participant's p99.
        LatencySummary[] players = [.. people.Select(p => p.Player!.Latency.Summarize()).OrderBy(l => l.P50)];
        LatencySummary median = players[players.Length / 2] with { P99 = players.Max(l => l.P99), Max = players.Max(l => l.Max) };
        long sent = people.Sum(p => Interlocked.Read(ref p.AudioSent));
        long decoded = people.Sum(p => p.DecodedSinceReset());
        long pullTicks = people.Sum(p => p.PullTicksSinceReset());
        return new AudioBenchFigures(
            sent,
            people.Sum(p => Interlocked.Read(ref p.AudioReceived)),
            played == 0 ? 0 : (double)concealed / played,
            call.AudioTransit.Summarize(),
            median,
            sent == 0 ? 0 : Stopwatch.GetElapsedTime(0, people.Sum(p => Interlocked.Read(ref p.EncodeTicks))).TotalMicroseconds / sent,
            decoded == 0 ? 0 : Stopwatch.GetElapsedTime(0, pullTicks).TotalMicroseconds / decoded);
    }

    private static void Expect(ResultMessage result, string request)
    {
        if (result.Code != ErrorCode.Normal)
        {
            throw new UserFacingException($"The bench's hub refused a {request}: {result.Code.ToWireName()}: {result.Text} (raise the room's caps?)");
        }
    }

    /// <summary>The test pattern's first frames, encoded once.</summary>
    private static async Task<(FrameInfo, byte[])[]> EncodeFramesAsync(ParticipantsBenchSettings settings, CancellationToken cancellationToken)
    {
        await using var source = new TestPatternSource(new TestPatternOptions { Width = settings.Size.Width, Height = settings.Size.Height, Fps = 0 });
        using IFrameEncoder encoder = CodecFactory.CreateEncoder(CodecId.Jpeg, settings.Jpeg);
        var frames = new (FrameInfo, byte[])[DistinctFrames];
        for (int i = 0; i < frames.Length; i++)
        {
            MediaFrame frame = await FrameEncoding.ReadAsync(source, encoder, cancellationToken) ?? throw new InvalidOperationException("The test pattern ended.");
            try
            {
                frames[i] = (frame.Header, frame.Data.ToArray());
            }
            finally
            {
                frame.Release();
            }
        }

        return frames;
    }

    /// <summary>Frames received on the slowest subscription since <paramref name="start"/> (null: since joining).</summary>
    private static long Slowest(Person[] people, long[][]? start)
    {
        long min = long.MaxValue;
        for (int i = 0; i < people.Length; i++)
        {
            min = Math.Min(min, people[i].SlowestSince(start?[i]));
        }

        return min;
    }

    /// <summary>What the participants share: who is who, the publishers' clock offsets, every latency sample.</summary>
    private sealed class Call(int participants)
    {
        /// <summary>Participant id → index (filled before anyone subscribes, read-only after).</summary>
        public Dictionary<uint, int> Indexes { get; } = [];

        /// <summary>Each publisher's hub clock offset, as it last used it: capture times go back to this process's clock exactly.</summary>
        public long[] PublisherOffsets { get; } = new long[participants];

        public LatencyRecorder Latency { get; } = new(1 << 20);

        /// <summary>Chat send → shown, every participant's every message (the send time travels in the text).</summary>
        public LatencyRecorder ChatLatency { get; } = new(1 << 20);

        /// <summary>Audio capture → received (µs on one clock), every packet of every subscription.</summary>
        public LatencyRecorder AudioTransit { get; } = new(1 << 20);

        public long ChatShown;

        public void OnChatShown(ChatMessage m)
        {
            Interlocked.Increment(ref ChatShown);
            if (BenchChatText.TryElapsed(m.Text, out double ms))
            {
                ChatLatency.Record(ms);
            }
        }
    }

    /// <summary>One participant: its connection, what it sends, and what it received from each other participant.</summary>
    private sealed class Person(int index, RoomClient client, Call call)
    {
        private readonly long[] _received = new long[call.PublisherOffsets.Length];
        private readonly long[] _lastSequence = Enumerable.Repeat(-1L, call.PublisherOffsets.Length).ToArray();
        public long Skipped;
        public long Sent;
        public long ChatSent;

        public int Index { get; } = index;

        public RoomClient Client { get; } = client;

        public LatencyRecorder Latency { get; } = new();

        public long AudioSent;
        public long AudioReceived;
        public long EncodeTicks;
        private long _decodedAtReset;
        private long _pullTicksAtReset;

        /// <summary>Everyone else's sound, as `call` hears it (made on the first packet: audio benches only).</summary>
        public AudioMixer? Mixer { get; private set; }

        public AudioPlayer? Player { get; private set; }

        public void ResetAudio()
        {
            Interlocked.Exchange(ref AudioSent, 0);
            Interlocked.Exchange(ref AudioReceived, 0);
            Interlocked.Exchange(ref EncodeTicks, 0);
            _decodedAtReset = Decoded();
            _pullTicksAtReset = Player?.PullTicks ?? 0;
            Player?.Latency.Reset();
        }

        /// <summary>Packets played (decoded, rebuilt or concealed) since the measurement began; the pulls' time with them.</summary>
        public long DecodedSinceReset() => Decoded() - _decodedAtReset;

        public long PullTicksSinceReset() => (Player?.PullTicks ?? 0) - _pullTicksAtReset;

        private long Decoded() => Mixer?.Stats().Sum(t => t.Stats.Decoded + t.Stats.Recovered + t.Stats.Concealed) ?? 0;

        public ValueTask OnFrame(ReceivedFrame frame)
        {
            if (!call.Indexes.TryGetValue(frame.ParticipantId, out int from))
            {
                return ValueTask.CompletedTask;
            }

            if (frame.Info.Kind == TrackKind.Audio)
            {
                Interlocked.Increment(ref AudioReceived);
                call.AudioTransit.Record((Clock.NowMicros() - (frame.Info.CaptureMicros - Volatile.Read(ref call.PublisherOffsets[from]))) / 1000.0);
                if (Mixer is { } mixer)
                {
                    frame.PushTo(mixer.Track(frame.ParticipantId, frame.TrackId, 1), Client.ClockOffsetMicros);
                }

                return ValueTask.CompletedTask;
            }

            // The publisher moved its capture time to the hub's clock with its own offset; publisher and subscriber share this process's clock.
            double ms = (Clock.NowMicros() - (frame.Info.CaptureMicros - Volatile.Read(ref call.PublisherOffsets[from]))) / 1000.0;
            Latency.Record(ms);
            call.Latency.Record(ms);
            long last = _lastSequence[from];
            if (last >= 0 && frame.Info.Sequence > last + 1)
            {
                Interlocked.Add(ref Skipped, frame.Info.Sequence - last - 1);
            }

            _lastSequence[from] = frame.Info.Sequence;
            Interlocked.Increment(ref _received[from]);
            return ValueTask.CompletedTask;
        }

        public long[] Snapshot() => _received.Select(c => Interlocked.Read(ref c)).ToArray();

        /// <summary>Frames received from each other participant since <paramref name="start"/>.</summary>
        public IEnumerable<long> Received(long[] start) => Enumerable.Range(0, _received.Length).Where(j => j != Index).Select(j => Interlocked.Read(ref _received[j]) - start[j]);

        public long SlowestSince(long[]? start)
        {
            long min = long.MaxValue;
            for (int j = 0; j < _received.Length; j++)
            {
                if (j != Index)
                {
                    min = Math.Min(min, Interlocked.Read(ref _received[j]) - (start?[j] ?? 0));
                }
            }

            return min;
        }

        /// <summary>One message every 1/<paramref name="rate"/> s, each awaited (its RESULT: stored) before the next.</summary>
        public async Task ChatLoopAsync(double rate, TimeSpan delay, CancellationToken cancellationToken)
        {
            await Task.Delay(delay, cancellationToken);
            var pacer = new FramePacer(rate);
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    await pacer.WaitAsync(cancellationToken);
                    ResultMessage result = await Client.SendChatAsync(BenchChatText.Stamped($"hello from p{Index + 1}"), cancellationToken);
                    Expect(result, "CHAT_SEND");
                    Interlocked.Increment(ref ChatSent);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }

        /// <summary>A tone of its own (150 Hz apart from the next person's) through libopus, one packet per 20 ms on the clock.</summary>
        public async Task AudioLoopAsync(CancellationToken cancellationToken)
        {
            var format = new AudioFormat(48_000, 1, 20_000);
            using var encoder = new OpusEncoder(new AudioOptions());
            var pacer = new AudioPacer(format.PacketMicros);
            short[] pcm = new short[format.PacketValues];
            byte[] packet = new byte[OpusEncoder.MaxPacketBytes];
            double hz = 300 + (150 * Index);
            long sample = 0;
            long sequence = 0;
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    for (int i = 0; i < pcm.Length; i++, sample++)
                    {
                        pcm[i] = (short)(8000 * Math.Sin(2 * Math.PI * hz * sample / 48_000));
                    }

                    long t0 = Stopwatch.GetTimestamp();
                    int length = encoder.Encode(pcm, packet);
                    Interlocked.Add(ref EncodeTicks, Stopwatch.GetTimestamp() - t0);
                    long capture = await pacer.WaitAsync(cancellationToken);
                    await Client.SendFrameAsync(2, new FrameInfo(TrackKind.Audio, CodecId.Opus, FrameFlags.Keyframe, format.PacketSamples, 0, sequence++, capture + Client.ClockOffsetMicros), packet.AsMemory(0, length), cancellationToken);
                    Interlocked.Increment(ref AudioSent);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }

        /// <summary>Plays everyone else's sound on 10 ms ticks (jitter buffers, Opus decoding, mixing) into no device.</summary>
        public async Task PlayLoopAsync(CancellationToken cancellationToken)
        {
            Mixer = new AudioMixer(1);
            Player = new AudioPlayer(Mixer, new DiscardSink());
            try
            {
                await Player.RunAsync(Mixer.PlayheadMicros, cancellationToken);
            }
            finally
            {
                Mixer.Dispose();
            }
        }

        public async Task SendLoopAsync((FrameInfo Info, byte[] Data)[] frames, double fps, TimeSpan delay, CancellationToken cancellationToken)
        {
            await Task.Delay(delay, cancellationToken);
            var pacer = new FramePacer(fps);
            long sequence = 0;
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    await pacer.WaitAsync(cancellationToken);
                    (FrameInfo info, byte[] data) = frames[sequence % frames.Length];
                    Volatile.Write(ref call.PublisherOffsets[Index], Client.ClockOffsetMicros);
                    await Client.SendFrameAsync(1, info with { Sequence = sequence, CaptureMicros = Clock.NowMicros() }, data, cancellationToken);
                    sequence++;
                    Interlocked.Increment(ref Sent);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }
    }
}

/// <summary>A sound device that plays instantly and keeps nothing: the bench measures up to the device.</summary>
internal sealed class DiscardSink : IAudioSink
{
    public long QueuedMicros => 0;

    public void Write(ReadOnlySpan<short> pcm)
    {
    }

    public void Dispose()
    {
    }
}
