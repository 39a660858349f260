using System.Diagnostics;
using System.Globalization;
using SocketCam.Client;
using SocketCam.Diagnostics;
using SocketCam.Protocol;

namespace SocketCam.Cli.Bench;

internal sealed record ChatBenchSettings(int Participants, TimeSpan Duration, int InFlight);

internal sealed record ChatBenchResult(
    ChatBenchSettings Settings,
    double Seconds,
    long Stored,
    long Delivered,
    long Refused,
    LatencySummary AckLatency,
    LatencySummary DeliveryLatency,
    long Gaps,
    long Duplicates,
    double HubCpuPercent,
    double HubWorkingSetMegabytes)
{
    public double StoredPerSecond => Stored / Seconds;

    public double DeliveredPerSecond => Delivered / Seconds;
}

/// <summary>
/// `bench --chat N`: how many chat messages one hub stores (durably: SQLite WAL, synchronous=FULL, the hub's real
/// settings) and delivers per second to N participants. A real `serve` child with a temporary --data; each participant
/// keeps <see cref="ChatBenchSettings.InFlight"/> messages unanswered at a time for the duration (its rate limit raised
/// for the bench), and every participant shows every message. Latency: send → RESULT (stored), and send → shown by
/// each participant, on this process's clock. Each participant's shown sequence is checked: no gap, nothing twice.
/// </summary>
internal static class ChatBench
{
    private const string Room = "bench-chat";

    public static async Task<ChatBenchResult> RunAsync(ChatBenchSettings settings, Action<string>? progress, CancellationToken cancellationToken)
    {
        string data = Directory.CreateTempSubdirectory("socketcam-bench-chat-").FullName;
        try
        {
            await using HubProcess hub = await HubProcess.StartAsync(
                ["--source", "none", "--http", "off", "--udp", "off", "--quiet", "--log-level", "warning", "--max-connections-per-address", "0",
                 "--max-participants", Math.Max(64, settings.Participants).ToString(CultureInfo.InvariantCulture),
                 "--data", data, "--chat-rate", "1000", "--chat-history", "0"], cancellationToken);
            return await MeasureAsync(hub, settings, progress, cancellationToken);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task<ChatBenchResult> MeasureAsync(HubProcess hub, ChatBenchSettings settings, Action<string>? progress, CancellationToken cancellationToken)
    {
        var options = new ClientOptions { Room = Room, Reconnect = false, Agent = "socketcam bench --chat", IdleTimeout = TimeSpan.FromMinutes(5) };
        int n = settings.Participants;
        var people = new List<Chatter>(n);
        var delivery = new LatencyRecorder(1 << 22);
        var acks = new LatencyRecorder(1 << 20);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = new List<Task>();
        try
        {
            for (int i = 0; i < n; i++)
            {
                var chatter = new Chatter(delivery, acks);
                chatter.Client = await RoomClient.ConnectAsync(hub.Endpoint, options, $"c{i + 1}", hidden: false, cancellationToken, chatter.Channel);
                chatter.Client.EventReceived = chatter.OnEvent;
                people.Add(chatter);
                loops.Add(chatter.Client.ReceiveAsync(0, stop.Token));
            }

            loops.Add(hub.WaitForUnexpectedExitAsync(stop.Token));
            await BenchRunner.WaitUntilAsync(() => people.All(p => p.HistoryDone), loops, TimeSpan.FromSeconds(60), "joining", stop.Token);
            progress?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{n} participants joined; chatting for {settings.Duration.TotalSeconds:0} s..."));

            TimeSpan hubCpu0 = hub.CpuTime;
            long t0 = Stopwatch.GetTimestamp();
            using var sending = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
            sending.CancelAfter(settings.Duration);
            var senders = people.SelectMany(p => Enumerable.Range(0, settings.InFlight).Select(_ => p.SendLoopAsync(sending.Token))).ToList();
            await Task.WhenAll(senders);
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            long stored = people.Sum(p => p.Acknowledged);
            long deliveredInWindow = people.Sum(p => p.Shown);

            // Everything stored reaches everyone (the rate counts what arrived within the window; the check waits for the rest).
            ulong last = people.Max(p => p.Channel.Last);
            await BenchRunner.WaitUntilAsync(() => people.All(p => p.Channel.Last >= last), loops, TimeSpan.FromSeconds(60), "delivery of the last messages", stop.Token);
            double hubCpuMs = (hub.CpuTime - hubCpu0).TotalMilliseconds;

            return new ChatBenchResult(
                settings, seconds, stored, deliveredInWindow, people.Sum(p => p.Refused), acks.Summarize(), delivery.Summarize(),
                people.Sum(p => p.Gaps), people.Sum(p => p.Duplicates), 100 * hubCpuMs / (Stopwatch.GetElapsedTime(t0).TotalMilliseconds), hub.WorkingSetMegabytes);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            foreach (Chatter p in people)
            {
                if (p.Client is not null)
                {
                    await p.Client.DisposeAsync();
                }
            }
        }
    }

    /// <summary>One participant: sends timestamped messages, checks what it is shown.</summary>
    private sealed class Chatter
    {
        private readonly LatencyRecorder _delivery;
        private readonly LatencyRecorder _acks;
        private ulong _lastSeq;
        private ulong _lastRaw;
        private long _acknowledged;
        private long _shown;
        private long _refused;

        public Chatter(LatencyRecorder delivery, LatencyRecorder acks)
        {
            _delivery = delivery;
            _acks = acks;
            Channel.Shown = OnShown;
            Channel.HistoryReceived = _ => HistoryDone = true;
        }

        public ChatChannel Channel { get; } = new();

        public RoomClient? Client { get; set; }

        public volatile bool HistoryDone;

        public long Gaps;

        public long Duplicates;

        public long Acknowledged => Interlocked.Read(ref _acknowledged);

        public long Shown => Interlocked.Read(ref _shown);

        public long Refused => Interlocked.Read(ref _refused);

        public async Task SendLoopAsync(CancellationToken cancellationToken)
        {
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    long sent = Stopwatch.GetTimestamp();
                    ResultMessage result = await Client!.SendChatAsync(BenchChatText.Stamped("a benchmark message of about sixty bytes of text"), CancellationToken.None);
                    if (result.Code == ErrorCode.Normal)
                    {
                        Interlocked.Increment(ref _acknowledged);
                        _acks.Record(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                    }
                    else
                    {
                        Interlocked.Increment(ref _refused);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }

        /// <summary>The hub's own CHAT_MESSAGE events, before the channel drops repeats: each chat_seq once, rising.</summary>
        public void OnEvent(RoomEvent e)
        {
            if (e is ChatMessageEvent chat)
            {
                if (chat.Message.Seq <= _lastRaw)
                {
                    Interlocked.Increment(ref Duplicates);
                }

                _lastRaw = chat.Message.Seq;
            }
        }

        private void OnShown(ChatMessage m)
        {
            // Shown once and in order by the channel; the bench checks that the hub left no hole either.
            if (_lastSeq != 0 && m.Seq > _lastSeq + 1)
            {
                Interlocked.Add(ref Gaps, (long)(m.Seq - _lastSeq - 1));
            }

            _lastSeq = m.Seq;
            Interlocked.Increment(ref _shown);
            if (BenchChatText.TryElapsed(m.Text, out double ms))
            {
                _delivery.Record(ms);
            }
        }
    }
}
