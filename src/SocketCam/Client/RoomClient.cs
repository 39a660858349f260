using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Transport;

namespace SocketCam.Client;

/// <summary>A frame received on a v2 session: whose track, what it is, and its data (valid until the handler's task completes).</summary>
internal readonly record struct ReceivedFrame(uint ParticipantId, ushort TrackId, FrameInfo Info, ReadOnlySequence<byte> Data);

/// <summary>
/// A protocol v2 session (docs/PROTOCOL.md Part II) as a participant: JOIN, requests answered by RESULT (awaitable),
/// frames of its own tracks out, the room's state kept up to date from the snapshot and events (a gap in event_seq is an
/// error), subscribed frames and keyframe requests handed to callbacks. One lock serialises writers.
/// </summary>
internal sealed class RoomClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly ConnectionStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<ResultMessage>> _pending = new();
    private bool _receiveEnded;
    private readonly ClockSync _clock;
    private readonly Dictionary<uint, ParticipantRecord> _participants = [];
    private readonly Dictionary<(uint, ushort), TrackRecord> _tracks = [];
    private readonly List<RoomSnapshotChunk> _snapshotChunks = [];
    private readonly TaskCompletionSource _snapshotDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _stateLock = new();
    private int _nextRequest;
    private uint _nextPing;
    private ulong _lastSeq;

    private readonly ChatChannel? _chat;

    private RoomClient(Socket socket, ConnectionStream stream, PipeReader reader, WelcomeV2Message welcome, ChatChannel? chat)
    {
        _socket = socket;
        _stream = stream;
        Reader = reader;
        Welcome = welcome;
        _chat = welcome.Chat is null ? null : chat;
        _chat?.BeginSession();
        _clock = new ClockSync(welcome.ServerTimeMicros - Clock.NowMicros());
    }

    public PipeReader Reader { get; }

    public WelcomeV2Message Welcome { get; }

    public uint ParticipantId => Welcome.ParticipantId;

    public long ClockOffsetMicros => _clock.OffsetMicros;

    public double LastRttMilliseconds => _clock.LastRttMicros / 1000.0;

    /// <summary>A frame of a subscribed track; while its task is pending nothing more is read (TCP pushes back on the hub).</summary>
    public Func<ReceivedFrame, ValueTask>? FrameReceived { get; set; }

    /// <summary>The hub asks for a keyframe of one of our tracks.</summary>
    public Action<KeyframeRequestMessage>? KeyframeRequested { get; set; }

    /// <summary>Every event, after the room state was updated (snapshot chunks only once complete, as the last chunk).</summary>
    public Action<RoomEvent>? EventReceived { get; set; }

    /// <summary>Completes once the whole join snapshot has arrived.</summary>
    public Task SnapshotReceived => _snapshotDone.Task;

    public ulong LastEventSequence
    {
        get
        {
            lock (_stateLock)
            {
                return _lastSeq;
            }
        }
    }

    /// <summary>The room's visible participants and tracks as this client knows them now.</summary>
    public (ParticipantRecord[] Participants, TrackRecord[] Tracks) Room
    {
        get
        {
            lock (_stateLock)
            {
                return (_participants.Values.OrderBy(p => p.ParticipantId).ToArray(), _tracks.Values.ToArray());
            }
        }
    }

    /// <summary>Whether the hub keeps a chat (WELCOME announced it) and this client takes part.</summary>
    public bool HasChat => _chat is not null;

    /// <summary>
    /// Connects, sends preface (2, 2) and JOIN, waits for WELCOME (or the hub's ERROR, as <see cref="RemoteErrorException"/>).
    /// With a <paramref name="chat"/> channel the client announces chat and resumes after what the channel has shown.
    /// </summary>
    public static async Task<RoomClient> ConnectAsync(StreamEndpoint endpoint, ClientOptions options, string name, bool hidden, CancellationToken cancellationToken, ChatChannel? chat = null)
    {
        var joinMessage = new JoinMessage(chat is null ? 0 : ProtocolV2.FeatureChat, hidden, options.Room, name, options.Token ?? "", options.Agent, chat?.Last ?? 0, chat?.Store ?? 0);
        byte[] join = [.. MessageWriterV2.Preface(ProtocolV2.Version), .. MessageWriterV2.Join(joinMessage)];
        HubLink<WelcomeV2Message> link = await HubHandshake.ConnectAsync(
            endpoint, options, boundBuffers: true, join, (reader, token) => ReadWelcomeAsync(reader, endpoint, token), cancellationToken);
        return new RoomClient(link.Socket, link.Stream, link.Reader, link.Welcome, chat);
    }

    /// <summary>
    /// Sends a chat message (CHAT_SEND) and waits for its RESULT: ok once the hub stored it, or a refusal with the reason.
    /// The message stays in the channel's unacknowledged list until an answer comes, for a resend after a reconnect.
    /// </summary>
    public Task<ResultMessage> SendChatAsync(string text, CancellationToken cancellationToken)
    {
        ChatChannel chat = _chat ?? throw new InvalidOperationException("This hub keeps no chat (it did not announce it).");
        text = ChatChannel.Clean(text);
        return SendChatAsync(chat.Add(text), text, cancellationToken);
    }

    /// <summary>
    /// Sends (or resends, same id: the hub stores it once) a message of the channel's. Settled by any answer but
    /// <c>rate-limited</c>, which leaves it unacknowledged for the caller to send again after RESULT's <c>value</c> ms. A text
    /// CHAT_SEND cannot carry (the hub would end the session, and a resend the next one) is refused here, without
    /// sending; above the hub's 4096 bytes the hub itself refuses, with its reason.
    /// </summary>
    public async Task<ResultMessage> SendChatAsync(ulong clientId, string text, CancellationToken cancellationToken)
    {
        int max = Welcome.Chat?.MaxBytes ?? ProtocolV2.MaxChatText;
        int bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        if (bytes > ProtocolV2.MaxChatSend - 1024 || text.Length == 0)
        {
            _chat?.Acknowledge(clientId);
            return new ResultMessage(0, ErrorCode.TooLarge, (uint)max, text.Length == 0 ? "An empty message is not sent." : $"A message is at most {max} bytes; this one is {bytes} (not sent).");
        }

        uint id = NextRequestId();
        ResultMessage result = await RequestAsync(id, MessageWriterV2.ChatSend(new ChatSendMessage(id, clientId, text)), cancellationToken);
        if (result.Code != ErrorCode.RateLimited)
        {
            _chat?.Acknowledge(clientId);
        }

        return result;
    }

    private static async Task<WelcomeV2Message> ReadWelcomeAsync(PipeReader reader, StreamEndpoint endpoint, CancellationToken cancellationToken)
    {
        bool prefaceDone = false;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool done = false;
            try
            {
                if (!prefaceDone && MessageParserV2.TryReadPreface(ref buffer, out _, out ushort hubMax))
                {
                    prefaceDone = true;
                    if (hubMax < ProtocolV2.Version)
                    {
                        throw new RemoteErrorException(ErrorCode.UnsupportedVersion, $"{endpoint.Host} speaks protocol v1 only; this needs v2 (a newer `socketcam serve`).");
                    }
                }

                if (prefaceDone)
                {
                    V2Read read = MessageParserV2.TryReadMessage(ref buffer, 0, out MessageType type, out ReadOnlySequence<byte> payload);
                    if (read == V2Read.Message)
                    {
                        done = true;
                        return type switch
                        {
                            MessageType.Welcome => MessageParserV2.ParseWelcome(payload.ToArray()),
                            MessageType.Error or MessageType.Goodbye => throw ClientSession.ToRemoteError(MessageParser.ParseClose(payload)),
                            _ => throw new ProtocolException(ErrorCode.Malformed, $"Expected WELCOME, got {type}."),
                        };
                    }
                }

                if (result.IsCompleted)
                {
                    throw !prefaceDone && buffer.IsEmpty ? new HubHandshake.SilentCloseException() : new IOException("The server closed the connection during the handshake.");
                }
            }
            finally
            {
                if (done)
                {
                    reader.AdvanceTo(buffer.Start);
                }
                else
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
    }

    public Task<ResultMessage> PublishAsync(TrackDescription track, CancellationToken cancellationToken)
    {
        uint id = NextRequestId();
        return RequestAsync(id, MessageWriterV2.Publish(id, track), cancellationToken);
    }

    public Task<ResultMessage> UnpublishAsync(ushort trackId, CancellationToken cancellationToken)
    {
        uint id = NextRequestId();
        return RequestAsync(id, MessageWriterV2.Unpublish(id, trackId), cancellationToken);
    }

    /// <summary>SUBSCRIBE to a track, all tracks of a participant (<paramref name="trackId"/> 0xFFFF), or everyone's (both wildcards).</summary>
    public Task<ResultMessage> SubscribeAsync(uint participantId, ushort trackId, CancellationToken cancellationToken, byte kinds = 0)
    {
        uint id = NextRequestId();
        return RequestAsync(id, MessageWriterV2.Subscribe(MessageType.Subscribe, new SubscribeMessage(id, participantId, trackId, kinds, 0xFF)), cancellationToken);
    }

    public Task<ResultMessage> UnsubscribeAsync(uint participantId, ushort trackId, CancellationToken cancellationToken)
    {
        uint id = NextRequestId();
        return RequestAsync(id, MessageWriterV2.Subscribe(MessageType.Unsubscribe, new SubscribeMessage(id, participantId, trackId, 0, 0xFF)), cancellationToken);
    }

    public ValueTask SendSourceStateAsync(ushort trackId, bool live, string text, CancellationToken cancellationToken) =>
        SendAsync(MessageWriterV2.SourceState(new SourceStateMessage(trackId, live, text)), cancellationToken);

    public ValueTask SendKeyframeRequestAsync(uint participantId, ushort trackId, CancellationToken cancellationToken) =>
        SendAsync(MessageWriterV2.KeyframeRequest(new KeyframeRequestMessage(participantId, trackId, 0)), cancellationToken);

    /// <summary>One frame of one of our tracks; its capture time moves to the hub's clock.</summary>
    public async ValueTask SendFrameAsync(ushort trackId, FrameInfo info, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        byte[] header = new byte[ProtocolConstants.MessageHeaderSize + ProtocolV2.FrameHeaderSize];
        MessageWriterV2.WriteFrameHeader(header, 0, trackId, info with { CaptureMicros = info.CaptureMicros + ClockOffsetMicros }, data.Length);
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.SendAsync(header, cancellationToken);
            await _stream.SendAsync(data, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public ValueTask PingAsync(CancellationToken cancellationToken)
    {
        byte[] ping = new byte[ProtocolConstants.MessageHeaderSize + ProtocolConstants.PingPayloadSize];
        MessageWriter.WritePing(ping, new PingMessage(Interlocked.Increment(ref _nextPing), Clock.NowMicros()));
        return SendAsync(ping, cancellationToken);
    }

    /// <summary>Writes a raw message (tests of bad input use it for what a correct client never sends).</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.SendAsync(message, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async ValueTask SayGoodbyeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SendAsync(MessageWriterV2.Close(MessageType.Goodbye, ErrorCode.Normal, "bye"), cancellationToken);
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is OperationCanceledException || ex.IsDisconnect())
        {
        }
    }

    /// <summary>
    /// Reads until the hub says goodbye (returns) or fails (throws <see cref="RemoteErrorException"/> for its ERROR): the
    /// snapshot and events update <see cref="Room"/>, RESULTs complete requests, frames go to <see cref="FrameReceived"/>.
    /// </summary>
    public async Task ReceiveAsync(int maxFrameBytes, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                ReadResult result = await Reader.ReadAsync(cancellationToken);
                ReadOnlySequence<byte> buffer = result.Buffer;
                try
                {
                    while (true)
                    {
                        V2Read read = MessageParserV2.TryReadMessage(ref buffer, maxFrameBytes, out MessageType type, out ReadOnlySequence<byte> payload);
                        if (read == V2Read.NeedMore)
                        {
                            break;
                        }

                        if (read == V2Read.SkippedOptional)
                        {
                            if (MessageParserV2.IsRoomEvent((byte)type) && payload.Length >= 8)
                            {
                                Apply(MessageParserV2.ParseEvent((byte)type, payload.Slice(0, 8).ToArray()));
                            }

                            continue;
                        }

                        if (await HandleAsync(type, payload, cancellationToken))
                        {
                            return;
                        }
                    }

                    if (result.IsCompleted)
                    {
                        throw new IOException(buffer.IsEmpty ? "The server closed the connection." : $"The server vanished in the middle of a message ({buffer.Length} bytes unread).");
                    }
                }
                finally
                {
                    Reader.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _receiveEnded, true);
            FailPending();
        }
    }

    private async ValueTask<bool> HandleAsync(MessageType type, ReadOnlySequence<byte> payload, CancellationToken cancellationToken)
    {
        switch (type)
        {
            case MessageType.Frame:
                Span<byte> h = stackalloc byte[ProtocolV2.FrameHeaderSize];
                if (payload.Length < ProtocolV2.FrameHeaderSize)
                {
                    throw new ProtocolException(ErrorCode.Malformed, "FRAME is shorter than its header.");
                }

                payload.Slice(0, ProtocolV2.FrameHeaderSize).CopyTo(h);
                FrameInfo info = MessageParserV2.ParseFrameHeader(h, payload.Length, out uint pid, out ushort tid, out int offset);
                if (FrameReceived is { } onFrame)
                {
                    await onFrame(new ReceivedFrame(pid, tid, info, payload.Slice(offset)));
                }

                return false;
            case MessageType.Result:
                ResultMessage result = MessageParserV2.ParseResult(payload.ToArray());
                if (_pending.TryRemove(result.RequestId, out TaskCompletionSource<ResultMessage>? tcs))
                {
                    tcs.TrySetResult(result);
                }

                return false;
            case MessageType.KeyframeRequest:
                KeyframeRequested?.Invoke(MessageParserV2.ParseKeyframeRequest(payload.ToArray()));
                return false;
            case MessageType.ChatHistory:
                _chat?.OnHistory(MessageParserV2.ParseChatHistory(payload.ToArray()));
                return false;
            case MessageType.Ping:
                PingMessage ping = MessageParser.ParsePing(payload);
                byte[] pong = new byte[ProtocolConstants.MessageHeaderSize + ProtocolConstants.PongPayloadSize];
                MessageWriter.WritePong(pong, new PongMessage(ping.Id, ping.SentMicros, Clock.NowMicros()));
                await SendAsync(pong, cancellationToken);
                return false;
            case MessageType.Pong:
                _clock.OnPong(MessageParser.ParsePong(payload));
                return false;
            case MessageType.Goodbye:
                CloseMessage bye = MessageParser.ParseClose(payload);
                return bye.Code == ErrorCode.Normal ? true : throw ClientSession.ToRemoteError(bye);
            case MessageType.Error:
                throw ClientSession.ToRemoteError(MessageParser.ParseClose(payload));
            default:
                if (MessageParserV2.IsRoomEvent((byte)type))
                {
                    Apply(MessageParserV2.ParseEvent((byte)type, payload.ToArray()));
                    return false;
                }

                throw new ProtocolException(ErrorCode.Malformed, $"Unexpected {type} from the server.");
        }
    }

    /// <summary>Applies an event to the room state; a gap in event_seq is a bug on the other side (§4.7).</summary>
    private void Apply(RoomEvent e)
    {
        lock (_stateLock)
        {
            if (e is RoomSnapshotChunk chunk)
            {
                if (_snapshotDone.Task.IsCompleted)
                {
                    throw new ProtocolException(ErrorCode.Malformed, "A second ROOM_SNAPSHOT.");
                }

                _snapshotChunks.Add(chunk);
                if (!chunk.Last)
                {
                    return;
                }

                foreach (RoomSnapshotChunk c in _snapshotChunks)
                {
                    foreach (ParticipantRecord p in c.Participants)
                    {
                        _participants[p.ParticipantId] = p;
                    }

                    foreach (TrackRecord t in c.Tracks)
                    {
                        _tracks[(t.ParticipantId, t.Description.TrackId)] = t;
                    }
                }

                _lastSeq = chunk.Sequence;
                _snapshotDone.TrySetResult();
            }
            else
            {
                if (e.Sequence != _lastSeq + 1)
                {
                    throw new ProtocolException(ErrorCode.Malformed, $"event {e.Sequence} after {_lastSeq}");
                }

                _lastSeq = e.Sequence;
                switch (e)
                {
                    case ParticipantJoinedEvent j:
                        _participants[j.Participant.ParticipantId] = j.Participant;
                        break;
                    case ParticipantLeftEvent l:
                        _participants.Remove(l.ParticipantId);
                        break;
                    case TrackPublishedEvent p:
                        _tracks[(p.Track.ParticipantId, p.Track.Description.TrackId)] = p.Track;
                        break;
                    case TrackUnpublishedEvent u:
                        _tracks.Remove((u.ParticipantId, u.TrackId));
                        break;
                    case TrackStateEvent s when _tracks.TryGetValue((s.ParticipantId, s.TrackId), out TrackRecord? t):
                        _tracks[(s.ParticipantId, s.TrackId)] = t with { Live = s.Live, Text = s.Text };
                        break;
                }
            }
        }

        if (e is ChatMessageEvent chat)
        {
            _chat?.OnLive(chat.Message);
        }

        EventReceived?.Invoke(e);
    }

    private uint NextRequestId() => (uint)Interlocked.Increment(ref _nextRequest);

    private async Task<ResultMessage> RequestAsync(uint id, byte[] message, CancellationToken cancellationToken)
    {
        var tcs = new TaskCompletionSource<ResultMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        if (Volatile.Read(ref _receiveEnded))
        {
            FailPending(); // nobody reads answers any more: a request made after the end must not wait forever
        }

        await SendAsync(message, cancellationToken);
        return await tcs.Task.WaitAsync(cancellationToken);
    }

    private void FailPending()
    {
        foreach (uint id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out TaskCompletionSource<ResultMessage>? pending))
            {
                pending.TrySetException(new IOException("The session ended before the hub answered."));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await HubHandshake.DisposeAllAsync(_socket, _stream, Reader);
        _writeLock.Dispose();
    }
}
