using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SocketCam.Cli.Output;
using SocketCam.Client;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Cli.Commands;

/// <summary>
/// The terminal side of `socketcam call`: what arrives (frames per participant, the room's comings and goings, chat) is
/// counted, printed and handed to the window; what is typed is sent as chat. Spans the reconnects of one call.
/// </summary>
internal sealed class CallSession : IAsyncDisposable
{
    private readonly bool _json;
    private readonly ILogger _logger;
    private readonly ChatChannel _chat = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, Received> _received = [];
    private readonly Dictionary<uint, string> _names = [];
    private readonly Lock _printLock = new();
    private volatile RoomClient? _client;
    private readonly System.Threading.Channels.Channel<string> _outgoing = System.Threading.Channels.Channel.CreateUnbounded<string>();
    private readonly SemaphoreSlim _sessionStarted = new(0);
    private uint _self;
    private long _chatShown;

    public CallSession(bool json, ILoggerFactory loggers, Audio.AudioMixer? audio = null)
    {
        _json = json;
        Audio = audio;
        _logger = loggers.CreateLogger("SocketCam.Call");
        _chat.Shown = PrintChat;
        Hooks = new ParticipantHooks
        {
            Chat = _chat,
            SubscribeToVideo = true,
            SubscribeToAudio = audio is not null,
            FrameReceived = OnFrameAsync,
            EventReceived = OnEvent,
            SessionChanged = OnSessionChanged,
        };
    }

    public ParticipantHooks Hooks { get; }

    /// <summary>Where the others' audio plays (one jitter buffer per track), or null: the call is silent here.</summary>
    public Audio.AudioMixer? Audio { get; }

    /// <summary>The publisher, for /mute of our own microphone.</summary>
    public TrackPublisher? Publisher { get; set; }

    private readonly Dictionary<(uint, ushort), int> _audioChannels = [];
    private long _audioPackets;

    /// <summary>The call's stop: a session that ends while it is not set dropped, and the user hears so.</summary>
    public CancellationToken Stopping { get; set; }

    private void OnSessionChanged(RoomClient? client)
    {
        _client = client;
        if (client is not null)
        {
            _sessionStarted.Release();
        }

        if (client is null && !Stopping.IsCancellationRequested)
        {
            if (_json)
            {
                WriteJsonLine(w => w.WriteString("type", "disconnected"));
            }
            else
            {
                WriteLine("  (the call dropped: reconnecting...)");
            }
        }
    }

    /// <summary>The window, when there is one: tiles follow the room, pictures follow the frames.</summary>
    public CallScreen? Screen { get; set; }

    /// <summary>KEYFRAME_REQUEST for another participant's track, on the current session (none while reconnecting).</summary>
    public ValueTask RequestKeyframeAsync(uint participantId, ushort trackId, CancellationToken cancellationToken) =>
        _client is { } client ? client.SendKeyframeRequestAsync(participantId, trackId, cancellationToken) : ValueTask.CompletedTask;

    /// <summary>Reads lines until the input ends or the call stops: each line is a chat message; /who and /quit are commands.</summary>
    public async Task ReadInputAsync(TextReader input, CancellationTokenSource stop)
    {
        // A console read cannot be cancelled (on Unix it blocks in read(2) whatever the token says): a background thread
        // reads lines into a channel and this loop takes them with the call's token. At the end of the call the thread
        // may still sit in its read; being a background thread it does not keep the process alive.
        var lines = System.Threading.Channels.Channel.CreateBounded<string>(64);
        var reader = new Thread(() =>
        {
            try
            {
                while (input.ReadLine() is { } read)
                {
                    if (!lines.Writer.TryWrite(read))
                    {
                        lines.Writer.WriteAsync(read).AsTask().Wait();
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
            }
            finally
            {
                lines.Writer.TryComplete();
            }
        })
        { IsBackground = true, Name = "stdin lines" };
        reader.Start();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (!await lines.Reader.WaitToReadAsync(stop.Token))
                {
                    return; // stdin ended (a bot with nothing to say): the call goes on
                }

                string line = await lines.Reader.ReadAsync(stop.Token);

                line = line.TrimEnd('\r');
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                if (line.Trim() == "/quit")
                {
                    await stop.CancelAsync();
                    return;
                }

                if (line.Trim() == "/who")
                {
                    PrintWho();
                    continue;
                }

                if (line.Trim().Split(' ', 2) is ["/mute" or "/unmute", ..] mute)
                {
                    Mute(mute[0] == "/mute", mute.Length > 1 ? mute[1].Trim() : null);
                    continue;
                }

                if (_client is null)
                {
                    PrintNotice("not connected: the message goes out when the call is back");
                }

                _outgoing.Writer.TryWrite(line);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// The one sender of chat, in order: in each session it first resends what earlier sessions did not get an answer
    /// for (same ids: stored once), then sends what is typed. A refusal is printed; rate-limited waits as the hub says
    /// and tries again. A session that drops leaves the rest for the next one.
    /// </summary>
    public async Task SendLoopAsync(CancellationToken cancellationToken)
    {
        RoomClient? dead = null;
        try
        {
            while (true)
            {
                RoomClient client = await NextSessionAsync(dead, cancellationToken);
                try
                {
                    foreach ((ulong id, string text) in _chat.Unacknowledged)
                    {
                        await SendOneAsync(client, id, text, cancellationToken);
                    }

                    while (true)
                    {
                        string text = ChatChannel.Clean(await _outgoing.Reader.ReadAsync(cancellationToken));
                        if (!client.HasChat)
                        {
                            PrintNotice("this hub keeps no chat (serve --data off): not sent");
                            continue;
                        }

                        await SendOneAsync(client, _chat.Add(text), text, cancellationToken);
                    }
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
                {
                    // Still in the channel's unacknowledged list: the next session resends it with the same id.
                    dead = client;
                    PrintNotice("the connection dropped: unsent messages go out when the call is back");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task<RoomClient> NextSessionAsync(RoomClient? dead, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_client is { } client && client != dead)
            {
                return client;
            }

            await _sessionStarted.WaitAsync(cancellationToken);
        }
    }

    private async Task SendOneAsync(RoomClient client, ulong id, string text, CancellationToken cancellationToken)
    {
        while (true)
        {
            ResultMessage result = await client.SendChatAsync(id, text, cancellationToken);
            if (result.Code == ErrorCode.RateLimited)
            {
                PrintNotice($"sending faster than the hub takes: the next message waits {result.Value} ms");
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(result.Value, 50u, 10_000u)), cancellationToken);
                continue;
            }

            if (result.Code != ErrorCode.Normal)
            {
                PrintNotice($"not sent ({result.Code.ToWireName()}): {PrintableText.Of(result.Text)}");
            }

            return;
        }
    }

    // Audio tracks' channel counts, from their descriptions (call under _lock).
    private void NoteAudio(uint participant, TrackDescription d)
    {
        if (d.Kind == Media.TrackKind.Audio)
        {
            _audioChannels[(participant, d.TrackId)] = Math.Clamp((int)d.A, 1, 2);
        }
    }

    /// <summary>/mute, /unmute: our own microphone; /mute NAME, /unmute NAME: that participant, here only.</summary>
    private void Mute(bool mute, string? who)
    {
        string verb = mute ? "muted" : "unmuted";
        if (who is null)
        {
            if (Publisher is null)
            {
                return;
            }

            Publisher.AudioMuted = mute;
            PrintNotice($"your microphone is {verb}");
            return;
        }

        uint[] ids;
        lock (_lock)
        {
            ids = [.. _names.Where(n => string.Equals(n.Value, who, StringComparison.OrdinalIgnoreCase) && n.Key != _self).Select(n => n.Key)];
        }

        if (ids.Length == 0 || Audio is null)
        {
            PrintNotice(Audio is null ? "there is no sound here to mute (--audio-out)" : $"nobody called '{PrintableText.Of(who)}' is here (/who lists them)");
            return;
        }

        foreach (uint id in ids)
        {
            Audio.Mute(id, mute);
        }

        PrintNotice($"{PrintableText.Of(who)} is {verb} here");
    }

    private ValueTask OnFrameAsync(ReceivedFrame frame)
    {
        if (frame.Info.Kind == Media.TrackKind.Audio)
        {
            if (Audio is { } mixer)
            {
                int channels;
                lock (_lock)
                {
                    channels = _audioChannels.GetValueOrDefault((frame.ParticipantId, frame.TrackId), 1);
                }

                frame.PushTo(mixer.Track(frame.ParticipantId, frame.TrackId, channels), _client?.ClockOffsetMicros ?? 0);
                Interlocked.Increment(ref _audioPackets);
            }

            return ValueTask.CompletedTask;
        }

        long latency = Clock.NowMicros() + (_client?.ClockOffsetMicros ?? 0) - frame.Info.CaptureMicros;
        lock (_lock)
        {
            if (!_received.TryGetValue(frame.ParticipantId, out Received? r))
            {
                r = new Received(_names.GetValueOrDefault(frame.ParticipantId, $"participant-{frame.ParticipantId}"));
                _received[frame.ParticipantId] = r;
            }

            r.OnFrame(frame, latency);
        }

        Screen?.Offer(frame);
        return ValueTask.CompletedTask;
    }

    private void OnEvent(RoomClient client, RoomEvent e)
    {
        switch (e)
        {
            case RoomSnapshotChunk:
                (ParticipantRecord[] participants, TrackRecord[] tracks) = client.Room;
                lock (_lock)
                {
                    _self = client.ParticipantId;
                    foreach (ParticipantRecord p in participants)
                    {
                        _names[p.ParticipantId] = p.Name;
                    }
                }

                lock (_lock)
                {
                    foreach (TrackRecord t in tracks)
                    {
                        NoteAudio(t.ParticipantId, t.Description);
                    }
                }

                Screen?.Reset(client.ParticipantId, participants, tracks, client.ClockOffsetMicros);
                int others = participants.Count(p => p.ParticipantId != client.ParticipantId);
                PrintPresence("joined", client.ParticipantId, "you", others == 0 ? "nobody else is here yet" : $"with {string.Join(", ", participants.Where(p => p.ParticipantId != client.ParticipantId).Select(p => PrintableText.Of(p.Name)))}");
                break;
            case ParticipantJoinedEvent j:
                lock (_lock)
                {
                    _names[j.Participant.ParticipantId] = j.Participant.Name;
                }

                Screen?.Join(j.Participant);
                PrintPresence("joined", j.Participant.ParticipantId, j.Participant.Name, null);
                break;
            case ParticipantLeftEvent l:
                string name;
                lock (_lock)
                {
                    name = _names.GetValueOrDefault(l.ParticipantId, $"participant-{l.ParticipantId}");
                    _names.Remove(l.ParticipantId);
                }

                Audio?.RemoveParticipant(l.ParticipantId);
                Screen?.Leave(l.ParticipantId);
                PrintPresence("left", l.ParticipantId, name, l.Reason == ErrorCode.Normal ? null : l.Reason.ToWireName());
                break;
            case TrackPublishedEvent p:
                lock (_lock)
                {
                    NoteAudio(p.Track.ParticipantId, p.Track.Description);
                }

                Screen?.Publish(p.Track);
                break;
            case TrackUnpublishedEvent u:
                Audio?.Remove(u.ParticipantId, u.TrackId);
                Screen?.Unpublish(u.ParticipantId, u.TrackId);
                break;
            case TrackStateEvent s:
                Screen?.State(s.ParticipantId, s.TrackId, s.Live);
                break;
        }
    }

    private void PrintChat(ChatMessage m)
    {
        Interlocked.Increment(ref _chatShown);
        DateTimeOffset sent = m.SentAt;
        string time = sent.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture);
        if (_json)
        {
            WriteJsonLine(w =>
            {
                w.WriteString("type", "chat");
                w.WriteNumber("seq", m.Seq);
                w.WriteString("time", sent.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
                w.WriteNumber("participant", m.ParticipantId);
                w.WriteString("name", m.Name);
                w.WriteString("text", m.Text);
            });
            return;
        }

        // A message is text: every line made printable (no terminal escapes), continuation lines indented under the first.
        string[] lines = m.Text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"[{time}] {PrintableText.Of(m.Name)}: {PrintableText.Of(lines[0])}");
        foreach (string line in lines.Skip(1))
        {
            text.Append(Environment.NewLine).Append("           ").Append(PrintableText.Of(line));
        }

        WriteLine(text.ToString());
    }

    private void PrintPresence(string what, uint id, string name, string? detail)
    {
        if (_json)
        {
            WriteJsonLine(w =>
            {
                w.WriteString("type", what);
                w.WriteNumber("participant", id);
                w.WriteString("name", name);
                if (detail is not null)
                {
                    w.WriteString("detail", detail);
                }
            });
            return;
        }

        string time = DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
        WriteLine($"[{time}] * {PrintableText.Of(name)} {what}" + (detail is null ? "" : $" ({PrintableText.Of(detail)})"));
    }

    private void PrintNotice(string text)
    {
        if (_json)
        {
            WriteJsonLine(w =>
            {
                w.WriteString("type", "notice");
                w.WriteString("text", text);
            });
            return;
        }

        WriteLine("  (" + text + ")");
    }

    private void PrintWho()
    {
        RoomClient? client = _client;
        if (client is null)
        {
            PrintNotice("not connected");
            return;
        }

        (ParticipantRecord[] participants, TrackRecord[] tracks) = client.Room;
        foreach (ParticipantRecord p in participants)
        {
            int count = tracks.Count(t => t.ParticipantId == p.ParticipantId);
            PrintNotice($"{PrintableText.Of(p.Name)}{(p.ParticipantId == client.ParticipantId ? " (you)" : "")}: {count} track(s)");
        }
    }

    private void WriteLine(string line)
    {
        lock (_printLock)
        {
            LiveStats.WriteAboveStatus(line);
        }
    }

    private void WriteJsonLine(Action<Utf8JsonWriter> body)
    {
        string line = JsonSummary.Write(body);
        lock (_printLock)
        {
            Console.Out.WriteLine(line);
        }
    }

    /// <summary>The live line: who is here, what arrives and what goes out.</summary>
    public Func<TimeSpan, string> StatusLine(TrackPublisher publisher)
    {
        long lastIn = 0;
        long lastOut = 0;
        return interval =>
        {
            long frames;
            int others;
            lock (_lock)
            {
                frames = _received.Values.Sum(r => r.Frames);
                others = _names.Keys.Count(id => id != _self);
            }

            long sent = publisher.FramesSent;
            string line = string.Create(CultureInfo.InvariantCulture,
                $"{(_client is null ? "reconnecting" : "in the call")}: {others} other(s), receiving {(frames - lastIn) / interval.TotalSeconds,5:0.0} fps, sending {(sent - lastOut) / interval.TotalSeconds,5:0.0} fps, chat {Interlocked.Read(ref _chatShown)}");
            lastIn = frames;
            lastOut = sent;
            return line;
        };
    }

    /// <summary>With --json: one line, a summary per participant received; without: a sentence.</summary>
    public void PrintSummary(TrackPublisher publisher)
    {
        List<Received> received;
        lock (_lock)
        {
            received = [.. _received.Values];
        }

        if (_json)
        {
            WriteJsonLine(w =>
            {
                w.WriteString("type", "summary");
                w.WriteNumber("frames_sent", publisher.FramesSent);
                w.WriteNumber("reconnects", publisher.Reconnects);
                w.WriteNumber("chat_shown", Interlocked.Read(ref _chatShown));
                w.WriteNumber("chat_last_seq", _chat.Last);
                w.WriteNumber("chat_unacknowledged", _chat.Unacknowledged.Count);
                w.WriteStartArray("participants");
                foreach (Received r in received)
                {
                    w.WriteStartObject();
                    r.Write(w);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
            return;
        }

        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Left the call: sent {publisher.FramesSent} frames, received {received.Sum(r => r.Frames)} from {received.Count} participant(s), {Interlocked.Read(ref _chatShown)} chat message(s)."));
    }

    public ValueTask DisposeAsync()
    {
        _sessionStarted.Dispose();
        if (_chat.Unacknowledged.Count > 0)
        {
            CallLog.Unsent(_logger, _chat.Unacknowledged.Count);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>What one participant sent us: frames, bytes, size, rate and latency (capture to arrival, on the hub's clock).</summary>
    private sealed class Received(string name)
    {
        private readonly LatencyRecorder _latency = new(4096);
        private readonly long _started = Environment.TickCount64;

        public long Frames { get; private set; }

        public void OnFrame(in ReceivedFrame frame, long latencyMicros)
        {
            Frames++;
            Bytes += frame.Data.Length;
            Width = frame.Info.Width;
            Height = frame.Info.Height;
            Participant = frame.ParticipantId;
            _latency.Record(latencyMicros / 1000.0);
        }

        private long Bytes { get; set; }

        private int Width { get; set; }

        private int Height { get; set; }

        private uint Participant { get; set; }

        public void Write(Utf8JsonWriter w)
        {
            double seconds = Math.Max(0.001, (Environment.TickCount64 - _started) / 1000.0);
            w.WriteNumber("participant", Participant);
            w.WriteString("name", name);
            w.WriteNumber("frames", Frames);
            w.WriteNumber("bytes", Bytes);
            w.WriteNumber("fps", Math.Round(Frames / seconds, 2));
            w.WriteNumber("width", Width);
            w.WriteNumber("height", Height);
            JsonSummary.WriteLatency(w, _latency.Summarize());
        }
    }
}

internal static partial class CallLog
{
    [LoggerMessage(EventId = 950, Level = LogLevel.Warning, Message = "{Count} chat message(s) typed were never acknowledged by the hub (the call ended first)")]
    public static partial void Unsent(ILogger logger, int count);
}
