using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SocketCam.Auth;
using SocketCam.Chat;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Limits;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Rooms;
using SocketCam.Transport;

namespace SocketCam.Hub;

/// <summary>
/// A protocol v2 session (docs/PROTOCOL.md Part II) over a stream socket, after the client's preface said version 2, or
/// over a WebSocket (§4.16); the transport is an <see cref="IParticipantLink"/>:
/// JOIN, then requests, frames of its own tracks and keyframe requests in; WELCOME, the room's snapshot and events,
/// RESULTs and the subscribed tracks' frames out. Everything outgoing waits in the participant's <see cref="Outbox"/>
/// and one send loop, the socket's only writer, writes it: control first, then audio, then video.
/// </summary>
internal sealed class ParticipantConnection
{
    private readonly IParticipantLink _link;
    private readonly AddressKey? _address;
    private readonly HubServer _hub;
    private readonly SessionOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _receiveTimeout;
    private readonly SendCounters _sent;
    private readonly ReceiveCounters _received;
    private readonly Outbox _outbox;
    private AccessGrants _grants;
    private readonly RequestBucket _requests;
    private readonly RequestBucket? _chatBucket;
    // --max-publish-bitrate counts everything a participant sends; --max-publish-fps each video track on its own (a
    // camera and a screen are two streams; audio packets are not frames of a picture). Receive loop only.
    private PublishRateLimit? _bitrateLimit;
    private volatile bool _closing;
    private volatile bool _flushing;
    private static readonly TimeSpan LingerLimit = TimeSpan.FromSeconds(1);
    private volatile bool _sendFailed;
    private volatile bool _sendStalled;
    private long _keyframeRequestsDropped;

    // Armed around each message's write: one that has not gone out within SendStallTimeout makes the peer a slow consumer.
    // One source whose timer is re-armed (CancelAfter), so a write costs no allocation.
    private readonly CancellationTokenSource _stall = new();
    private readonly TimeSpan _stallTimeout;

    public ParticipantConnection(IParticipantLink link, AddressKey? address, HubServer hub, SessionOptions options, ILogger logger, string remote, CancellationTokenSource receiveTimeout, SendCounters sent, ReceiveCounters received)
    {
        _link = link;
        _address = address;
        _hub = hub;
        _options = options;
        _logger = logger;
        Remote = remote;
        _receiveTimeout = receiveTimeout;
        _sent = sent;
        _received = received;
        RoomLimits limits = hub.Options.Rooms;
        _outbox = new Outbox(limits.ControlQueueMessages, limits.ControlQueueBytes);
        _requests = new RequestBucket(limits.RequestBurst, limits.RequestsPerSecond);
        if (hub.Options.Chat is { } chat)
        {
            _chatBucket = new RequestBucket(chat.Burst, chat.RatePerSecond);
        }
        _stallTimeout = limits.SendStallTimeout;
    }

    public string Remote { get; }

    public string? RoomName { get; private set; }

    public Participant? Participant { get; private set; }

    public long FramesDropped => _outbox.FramesDropped;

    /// <summary>Runs the session to its end; the caller closes the socket afterwards. Returns whether JOIN succeeded, and why it ended.</summary>
    public async Task RunAsync(PipeReader reader, CancellationToken serverToken)
    {
        Room? room = null;
        Participant? participant = null;
        Task? sendLoop = null;
        byte[]? farewell = null;
        string leaveReason = "closed";
        ErrorCode leaveCode = ErrorCode.Normal;
        try
        {
            (MessageType firstType, byte[] first) = await ReadFirstAsync(reader, serverToken);
            if (firstType == MessageType.ListRooms)
            {
                // `socketcam rooms`: one answer, then a polite close (§4.6.7).
                Authorize(MessageParserV2.ParseListRooms(first), null, AccessGrants.Admin);
                _hub.Guards.FailedAttempts.RecordSuccess(_address);
                await _link.SendAsync(MessageWriterV2.RoomList(ListRooms()), serverToken);
                farewell = MessageWriterV2.Close(MessageType.Goodbye, ErrorCode.Normal, "room list sent");
                return;
            }

            JoinMessage join = MessageParserV2.ParseJoin(first);
            AccessDecision access = Authorize(join.Token, join.Room, join.Hidden ? AccessGrants.Subscribe : AccessGrants.None);
            if ((access.Grants & (AccessGrants.Subscribe | AccessGrants.Publish | AccessGrants.Chat)) == 0)
            {
                _hub.Guards.Refusals.Count(Refusal.NotGranted);
                throw new ProtocolException(ErrorCode.NotAllowed, $"The token grants nothing in a room ({AccessGrantNames.Format(access.Grants)}).");
            }

            _grants = access.Grants;
            _hub.Guards.FailedAttempts.RecordSuccess(_address);
            room = _hub.OpenRoom(join.Room, access.Grants);
            RoomName = join.Room;
            // A signed token names its holder: the others see that name, not one the peer picked.
            participant = room.Join(access.Identity ?? join.Name, _link.Transport, ParticipantFlags.None, join.Hidden, _outbox);
            Participant = participant;
            participant.KeyframeRequested = m => _outbox.EnqueueControl(MessageWriterV2.KeyframeRequest(m));
            RoomLimits limits = room.Limits;
            ChatStore? chat = _hub.Chat;
            uint permissions = PermissionsOf(access.Grants, join.Hidden, chat is not null);

            var welcome = new WelcomeV2Message(
                _hub.NextSessionId(), Clock.NowMicros(), (uint)_options.MaxFrameBytes, participant.Id, room.Epoch, chat is null ? 0 : ProtocolV2.FeatureChat,
                permissions,
                Clamp16(limits.MaxTracks), Clamp16(limits.MaxSubscriptions), Clamp16(limits.MaxParticipants),
                Clamp16(limits.RequestBurst), Clamp16(limits.RequestsPerSecond), Clamp16((int)limits.KeyframeInterval.TotalMilliseconds),
                (uint)limits.ControlQueueMessages, (uint)limits.ControlQueueBytes,
                chat is null ? null : ChatTermsOf(chat, _hub.Options.Chat!));
            // WELCOME goes out before the send loop starts: the snapshot (already queued by Join) follows it.
            await _link.SendAsync(MessageWriterV2.Welcome(welcome), serverToken);
            HubLog.Joined(_logger, Remote, join.Room, join.Hidden ? "hidden participant" : $"participant {participant.Id} '{participant.Name}'", join.Agent);
            sendLoop = SendLoopAsync();
            if (chat is not null && (join.Features & ProtocolV2.FeatureChat) != 0)
            {
                QueueChatHistory(chat, join);
            }

            leaveReason = await ReceiveLoopAsync(reader, room, participant, join.Hidden, serverToken);
        }
        catch (ProtocolException ex)
        {
            if (ex.Code == ErrorCode.RoomFull)
            {
                _hub.Guards.Refusals.Count(Refusal.RoomFull);
            }

            if (participant is null && ex.Code is not (ErrorCode.Throttled or ErrorCode.RoomFull or ErrorCode.NotAllowed))
            {
                _hub.Guards.FailedAttempts.RecordFailure(_address);
            }

            HubLog.Rejected(_logger, Remote, ex.Code.ToWireName(), ex.Message);
            leaveReason = ex.Message;
            leaveCode = ex.Code;
            farewell = MessageWriterV2.Close(MessageType.Error, ex.Code, ex.Message);
        }
        catch (OperationCanceledException) when (serverToken.IsCancellationRequested)
        {
            leaveReason = "server shutting down";
            farewell = MessageWriterV2.Close(MessageType.Goodbye, ErrorCode.ServerShutdown, "The server is shutting down.");
        }
        catch (OperationCanceledException) when (_outbox.IsOverflowed)
        {
            leaveReason = "slow consumer: its control queue overflowed";
            leaveCode = ErrorCode.SlowConsumer;
            farewell = MessageWriterV2.Close(MessageType.Error, ErrorCode.SlowConsumer, "You do not read what you are sent (control queue full).");
        }
        catch (OperationCanceledException) when (_sendFailed)
        {
            leaveReason = "connection lost";
            leaveCode = ErrorCode.ConnectionLost;
        }
        catch (OperationCanceledException) when (_receiveTimeout.IsCancellationRequested)
        {
            bool handshake = participant is null;
            ErrorCode code = handshake ? ErrorCode.HandshakeTimeout : ErrorCode.IdleTimeout;
            string text = handshake ? $"No JOIN within {_options.HandshakeTimeout.TotalSeconds:0.#} s." : $"Nothing received for {_options.IdleTimeout.TotalSeconds:0.#} s.";
            if (handshake)
            {
                _hub.Guards.Refusals.Count(Refusal.HandshakeTimeout);
                _hub.Guards.FailedAttempts.RecordFailure(_address);
            }

            leaveReason = text;
            leaveCode = code;
            farewell = MessageWriterV2.Close(MessageType.Error, code, text);
        }
        catch (Exception ex) when (ex.IsDisconnect())
        {
            leaveReason = "connection lost";
            leaveCode = ErrorCode.ConnectionLost;
        }
        catch (Exception ex)
        {
            leaveReason = "internal error";
            leaveCode = ErrorCode.ConnectionLost;
            HubLog.Failed(_logger, Remote, ex);
        }
        finally
        {
            if (_sendStalled)
            {
                // The socket was closed to end a stuck write (however the receive loop then ended): no farewell can follow,
                // the others hear the reason.
                leaveReason = $"slow consumer: one message took more than {_stallTimeout.TotalSeconds:0.#} s to send";
                leaveCode = ErrorCode.SlowConsumer;
                farewell = null;
            }

            if (room is not null)
            {
                if (participant is not null)
                {
                    // On shutdown nobody is told anything but GOODBYE (§4.3).
                    if (!serverToken.IsCancellationRequested)
                    {
                        room.Leave(participant, leaveCode);
                    }
                    else
                    {
                        room.Leave(participant, ErrorCode.ServerShutdown);
                    }

                    HubLog.Left(_logger, Remote, room.Name, leaveReason, _sent.FramesSent, _outbox.FramesDropped);
                }

                _hub.LeaveRoom(room);
            }

            // What was queued before the end (RESULTs of requests that took effect, events) goes out ahead of the
            // farewell; a slow consumer's queue is dropped instead (§4.8).
            await CloseAsync(sendLoop, farewell, leaveCode, flushControl: leaveCode != ErrorCode.SlowConsumer);
        }
    }

    private static ChatTerms ChatTermsOf(ChatStore store, ChatOptions options) => new(
        store.StoreId, ProtocolV2.MaxChatText, Clamp16(options.Burst), Clamp16((int)Math.Round(options.RatePerSecond * 10)), Clamp16(options.HistoryOnJoin));

    /// <summary>
    /// CHAT_HISTORY (§4.15), read after the join took effect: with the CHAT_MESSAGE events from the join on, nothing is
    /// missed (the client drops what it has seen). Resume when the client names this store, else the last messages.
    /// </summary>
    private void QueueChatHistory(ChatStore store, in JoinMessage join)
    {
        bool resume = join.ChatAfter > 0 && join.ChatStore == store.StoreId;
        bool reset = false;
        IReadOnlyList<ChatMessage> messages = [];
        bool truncated = false;
        try
        {
            if (resume && join.ChatAfter > store.LastSequence(join.Room))
            {
                // The client saw more than this store holds (a file restored from an older backup): resuming would hide
                // the next messages from it, whose numbers it thinks it has seen.
                resume = false;
                reset = true;
            }

            (messages, truncated) = resume
                ? store.ReadLatest(join.Room, join.ChatAfter, ProtocolV2.MaxResumeMessages)
                : store.ReadLatest(join.Room, 0, _hub.Options.Chat!.HistoryOnJoin);
        }
        catch (ChatStoreException ex)
        {
            // Flagged as cut: an empty, complete-looking history would let the client resume past what it never saw.
            HubLog.ChatHistoryFailed(_logger, Remote, ex.Message);
            truncated = true;
            resume = true;
        }

        // Not counted against the control queue (like the snapshot): a resume's 1000 messages may be 4 MB, once per session.
        foreach (byte[] chunk in MessageWriterV2.ChatHistory(store.StoreId, messages, resume && truncated, reset))
        {
            _outbox.EnqueueControl(chunk, counted: false);
        }
    }

    /// <summary>CHAT_SEND (§4.15): refusals as RESULTs (the session goes on); ok only once the store made it durable.</summary>
    private async ValueTask<ResultMessage> SendChatAsync(ChatSendMessage send, Room room, Participant participant, bool hidden, CancellationToken serverToken)
    {
        ChatStore? store = _hub.Chat;
        if (store is null || _chatBucket is null || hidden || !_grants.Covers(AccessGrants.Chat))
        {
            // Refusals are not free: a peer that keeps asking pays like any request (and is cut off like one).
            TakeRequestToken();
            return RefuseChat(send, ErrorCode.NotAllowed, 0,
                hidden ? "Hidden participants read the chat but may not send." : store is null ? "This hub keeps no chat." : "Your token does not grant chat.");
        }

        if (!_chatBucket.TryTake())
        {
            TimeSpan wait = _chatBucket.UntilNextToken;
            return RefuseChat(send, ErrorCode.RateLimited, (uint)Math.Min(Math.Ceiling(wait.TotalMilliseconds), uint.MaxValue),
                $"Too many messages: at most {_hub.Options.Chat!.RatePerSecond:0.#} per second; try again in {Math.Max(0.1, wait.TotalSeconds):0.#} s.");
        }

        int bytes = System.Text.Encoding.UTF8.GetByteCount(send.Text);
        if (bytes > ProtocolV2.MaxChatText)
        {
            return RefuseChat(send, ErrorCode.TooLarge, ProtocolV2.MaxChatText, $"A message is at most {ProtocolV2.MaxChatText} bytes; this one is {bytes}.");
        }

        try
        {
            ChatAppendResult stored = await store.AppendAsync(room.Name, participant.Id, participant.Name, send.ClientMessageId, send.Text, serverToken);
            return new ResultMessage(send.RequestId, ErrorCode.Normal, 0, stored.Duplicate ? "already stored" : "", stored.Message.Seq, stored.Message.SentAtMicros);
        }
        catch (ChatIdReusedException ex)
        {
            return RefuseChat(send, ErrorCode.NotAllowed, 0, ex.Message + ".");
        }
        catch (ChatStoreException ex)
        {
            return RefuseChat(send, ErrorCode.Unavailable, 0, "The hub could not store the message (" + ex.Message + "); try again later.");
        }
    }

    private ResultMessage RefuseChat(in ChatSendMessage send, ErrorCode code, uint value, string text)
    {
        _hub.Guards.Refusals.Count(Refusal.ChatRefused);
        return new ResultMessage(send.RequestId, code, value, text);
    }

    /// <summary>The token's verdict for this room (a Unix socket is guarded by its file's permissions: every grant).</summary>
    private AccessDecision Authorize(string token, string? room, AccessGrants needed)
    {
        AccessDecision access = _link.Transport == ParticipantTransport.Unix ? AccessPolicy.Open.Check(null, room, needed) : _options.Access.Check(token, room, needed);
        if (!access.Allowed)
        {
            _hub.Guards.Refusals.Count(Refusal.Unauthorized);
            throw new ProtocolException(ErrorCode.Unauthorized, "Unauthorized: " + access.Refusal + ".");
        }

        return access;
    }

    /// <summary>WELCOME's permissions (§4.3): what the grants allow; a hidden participant only watches.</summary>
    internal static uint PermissionsOf(AccessGrants grants, bool hidden, bool chat)
    {
        uint permissions = 0;
        if (grants.Covers(AccessGrants.Subscribe))
        {
            permissions |= ProtocolV2.PermissionSubscribe;
        }

        if (!hidden && grants.Covers(AccessGrants.Publish))
        {
            permissions |= ProtocolV2.PermissionPublish;
        }

        if (!hidden && chat && grants.Covers(AccessGrants.Chat))
        {
            permissions |= ProtocolV2.PermissionChat;
        }

        return permissions;
    }

    /// <summary>A request the participant's token does not grant: refused as a RESULT, the session goes on.</summary>
    private ResultMessage? NotGranted(uint requestId, AccessGrants needed)
    {
        if (_grants.Covers(needed))
        {
            return null;
        }

        _hub.Guards.Refusals.Count(Refusal.NotGranted);
        return new ResultMessage(requestId, ErrorCode.NotAllowed, 0, $"Your token does not grant {AccessGrantNames.Format(needed)}.");
    }

    private List<RoomListing> ListRooms()
    {
        var rooms = new List<RoomListing>();
        foreach (Room room in _hub.Rooms.OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            (ParticipantRecord[] participants, TrackRecord[] tracks, uint hidden) = room.DescribeAll();
            rooms.Add(new RoomListing(room.Name, room.Epoch, room.EventSequence, hidden, participants, tracks));
        }

        return rooms;
    }

    private static ushort Clamp16(int value) => (ushort)Math.Clamp(value, 0, ushort.MaxValue);

    /// <summary>The first message: JOIN, or LIST_ROOMS instead (anything else is malformed).</summary>
    private async Task<(MessageType Type, byte[] Payload)> ReadFirstAsync(PipeReader reader, CancellationToken serverToken)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(_receiveTimeout.Token);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool done = false;
            try
            {
                // Frame cap 0 before JOIN: an unauthenticated peer can only make the hub buffer a JOIN-sized message.
                V2Read read = MessageParserV2.TryReadMessage(ref buffer, maxFrameBytes: 0, out MessageType type, out ReadOnlySequence<byte> payload);
                if (read != V2Read.NeedMore)
                {
                    done = true;
                    if (_hub.Guards.FailedAttempts.IsBlocked(_address, out TimeSpan retryAfter))
                    {
                        _hub.Guards.Refusals.Count(Refusal.Throttled);
                        throw new ProtocolException(ErrorCode.Throttled, string.Create(
                            System.Globalization.CultureInfo.InvariantCulture,
                            $"too many failed attempts from {_address}; retry in {Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds)):0} s"));
                    }

                    if (read != V2Read.Message || type is not (MessageType.Join or MessageType.ListRooms))
                    {
                        throw new ProtocolException(ErrorCode.Malformed, $"Expected JOIN first, got type 0x{(byte)type:X2}.");
                    }

                    return (type, payload.ToArray());
                }

                if (result.IsCompleted)
                {
                    throw new ProtocolException(ErrorCode.Malformed, "The connection closed during the handshake.");
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

            serverToken.ThrowIfCancellationRequested();
        }
    }

    private async Task<string> ReceiveLoopAsync(PipeReader reader, Room room, Participant participant, bool hidden, CancellationToken serverToken)
    {
        int maxFrameBytes = hidden ? 0 : _options.MaxFrameBytes;
        using IncomingFrameGuard? frames = hidden ? null : new IncomingFrameGuard(_hub.Guards, _address, reader);
        // The overflow of our own queue ends the receive loop too (the send loop sees it and writes slow-consumer).
        _outbox.Overflowed = () => _receiveTimeout.Cancel();
        var progress = new ReceiveProgress(_receiveTimeout, _options.IdleTimeout, frames, MessageType.Frame);
        progress.Start();
        while (true)
        {
            ReadResult result = await reader.ReadAsync(_receiveTimeout.Token);
            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                bool heard = false;
                while (true)
                {
                    V2Read read = MessageParserV2.TryReadMessage(ref buffer, maxFrameBytes, out MessageType type, out ReadOnlySequence<byte> payload);
                    if (read == V2Read.NeedMore)
                    {
                        break;
                    }

                    heard = true;
                    progress.OnMessage();
                    if (read == V2Read.SkippedOptional)
                    {
                        continue;
                    }

                    string? ended = await HandleAsync(type, payload, room, participant, hidden, frames, serverToken);
                    if (ended is not null)
                    {
                        return ended;
                    }
                }

                if (await progress.AfterParseAsync(buffer, result.IsCompleted, heard) is { } closed)
                {
                    return closed;
                }
            }
            finally
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
            }

            serverToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>One message; returns a reason when the session ends politely (GOODBYE, the peer's ERROR).</summary>
    private async ValueTask<string?> HandleAsync(MessageType type, ReadOnlySequence<byte> payload, Room room, Participant participant, bool hidden, IncomingFrameGuard? frames, CancellationToken serverToken)
    {
        switch (type)
        {
            case MessageType.Frame:
                frames!.FrameDone();
                await PublishFrameAsync(payload, room, participant, serverToken);
                return null;
            case MessageType.Publish:
                TakeRequestToken();
                (uint publishId, TrackDescription description) = MessageParserV2.ParsePublish(payload.ToArray());
                ResultMessage published = NotGranted(publishId, AccessGrants.Publish) ?? room.Publish(participant, publishId, description);
                if (published.Code == ErrorCode.TooManyTracks)
                {
                    _hub.Guards.Refusals.Count(Refusal.TrackLimit);
                }

                Reply(published);
                return null;
            case MessageType.Unpublish:
                TakeRequestToken();
                (uint unpublishId, ushort trackId) = MessageParserV2.ParseUnpublish(payload.ToArray());
                Reply(room.Unpublish(participant, unpublishId, trackId));
                return null;
            case MessageType.Subscribe:
                TakeRequestToken();
                SubscribeMessage sub = MessageParserV2.ParseSubscribe(payload.ToArray(), "SUBSCRIBE");
                Reply(NotGranted(sub.RequestId, AccessGrants.Subscribe) ?? room.Subscribe(participant, sub.RequestId, sub.ParticipantId, sub.TrackId, sub.Kinds));
                return null;
            case MessageType.Unsubscribe:
                TakeRequestToken();
                SubscribeMessage unsub = MessageParserV2.ParseSubscribe(payload.ToArray(), "UNSUBSCRIBE");
                Reply(room.Unsubscribe(participant, unsub.RequestId, unsub.ParticipantId, unsub.TrackId));
                return null;
            case MessageType.SourceState:
                TakeRequestToken();
                SourceStateMessage state = MessageParserV2.ParseSourceState(payload.ToArray());
                Track track = room.FindTrack(participant, state.TrackId)
                    ?? throw new ProtocolException(ErrorCode.NotPublished, $"SOURCE_STATE for track {state.TrackId}, which you do not publish.");
                room.SetTrackState(track, state.Live, state.Text);
                return null;
            case MessageType.ChatSend:
                ChatSendMessage chat = MessageParserV2.ParseChatSend(payload.ToArray());
                Reply(await SendChatAsync(chat, room, participant, hidden, serverToken));
                return null;
            case MessageType.KeyframeRequest:
                KeyframeRequestMessage request = MessageParserV2.ParseKeyframeRequest(payload.ToArray());
                if (!room.RequestKeyframe(participant, request.ParticipantId, request.TrackId))
                {
                    // Races with unpublishing: never an error (§4.6.5).
                    Interlocked.Increment(ref _keyframeRequestsDropped);
                }

                return null;
            case MessageType.Ping:
                PingMessage ping = MessageParser.ParsePing(payload);
                byte[] pong = new byte[ProtocolConstants.MessageHeaderSize + ProtocolConstants.PongPayloadSize];
                MessageWriter.WritePong(pong, new PongMessage(ping.Id, ping.SentMicros, Clock.NowMicros()));
                _outbox.EnqueueControl(pong);
                return null;
            case MessageType.Pong:
                MessageParser.ParsePong(payload);
                return null;
            case MessageType.Goodbye:
                return "said goodbye";
            case MessageType.Error:
                return "error: " + MessageParser.ParseClose(payload).Text;
            default:
                throw new ProtocolException(ErrorCode.Malformed, $"{type} is not allowed from a client in a v2 session.");
        }
    }

    private void TakeRequestToken()
    {
        if (!_requests.TryTake())
        {
            _hub.Guards.Refusals.Count(Refusal.PublishRateLimit);
            throw new ProtocolException(ErrorCode.RateLimited, $"Requests faster than {_hub.Options.Rooms.RequestsPerSecond}/s (burst {_hub.Options.Rooms.RequestBurst}).");
        }
    }

    private bool AdmitByRate(Track track, int bytes)
    {
        LimitOptions limits = _hub.Guards.Options;
        if (track.Kind == TrackKind.Video && limits.MaxPublishFps > 0)
        {
            track.FpsLimit ??= new PublishRateLimit(limits with { MaxPublishBitrate = 0 });
            if (!track.FpsLimit.TryAdmit(bytes))
            {
                return false;
            }
        }

        _bitrateLimit ??= new PublishRateLimit(limits with { MaxPublishFps = 0 });
        return _bitrateLimit.TryAdmit(bytes);
    }

    /// <summary>A RESULT goes after the events its request caused (the room queued them already, under its lock).</summary>
    private void Reply(in ResultMessage result) => _outbox.EnqueueControl(MessageWriterV2.Result(result));

    /// <summary>Checks a FRAME in the order §4.6.4 gives, copies its data into a pooled frame and hands it to the track.</summary>
    private async ValueTask PublishFrameAsync(ReadOnlySequence<byte> payload, Room room, Participant participant, CancellationToken serverToken)
    {
        Span<byte> h = stackalloc byte[ProtocolV2.FrameHeaderSize];
        if (payload.Length < ProtocolV2.FrameHeaderSize)
        {
            throw new ProtocolException(ErrorCode.Malformed, "FRAME is shorter than its 32-byte header.");
        }

        payload.Slice(0, ProtocolV2.FrameHeaderSize).CopyTo(h);
        FrameInfo info = MessageParserV2.ParseFrameHeader(h, payload.Length, out uint participantId, out ushort trackId, out int dataOffset);
        if (participantId != 0)
        {
            throw new ProtocolException(ErrorCode.Malformed, "FRAME from a client must have participant_id 0.");
        }

        Track track = room.FindTrack(participant, trackId)
            ?? throw new ProtocolException(ErrorCode.NotPublished, $"FRAME for track {trackId}, which you do not publish.");
        if (info.Kind != track.Kind || info.Codec != track.Description.Codec)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"FRAME of track {trackId} is {info.Kind}/{CodecIds.Name(info.Codec)} but the track is {track.Kind}/{CodecIds.Name(track.Description.Codec)}.");
        }

        if (CodecIds.AllKeyframes(info.Codec) && !info.IsKeyframe)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"Every {CodecIds.Name(info.Codec)} frame is a keyframe: set the keyframe flag.");
        }

        ReadOnlySequence<byte> data = payload.Slice(dataOffset);
        if (info.Kind == TrackKind.Audio && data.Length > ProtocolV2.MaxAudioFrameBytes)
        {
            throw new ProtocolException(ErrorCode.TooLarge, $"Audio frames are at most {ProtocolV2.MaxAudioFrameBytes} bytes.");
        }

        if (!AdmitByRate(track, (int)data.Length))
        {
            _hub.Guards.Refusals.Count(Refusal.PublishRateLimit);
            return;
        }

        MediaFrame frame = MediaFrame.Rent((int)data.Length);
        try
        {
            data.CopyTo(frame.WritableData);
            frame.Complete(info, (int)data.Length);
            FrameCheck.Validate(frame, track.Kind == TrackKind.Audio ? track.Description.A : 0);
            _received.OnReceived(frame.DataLength);
            ValueTask published = room.PublishAsync(track, frame, serverToken);
            if (!published.IsCompletedSuccessfully)
            {
                _receiveTimeout.CancelAfter(Timeout.InfiniteTimeSpan);
            }

            await published;
        }
        finally
        {
            frame.Release();
        }
    }

    private async Task SendLoopAsync()
    {
        using CancellationTokenRegistration onStall = _stall.Token.UnsafeRegister(static s => ((ParticipantConnection)s!).OnSendStalled(), this);
        try
        {
            while (true)
            {
                await _outbox.WaitAsync(CancellationToken.None);
                while (!_closing && !_outbox.IsOverflowed)
                {
                    if (_outbox.TakeControl() is { } control)
                    {
                        _stall.CancelAfter(_stallTimeout);
                        await _link.SendAsync(control, CancellationToken.None);
                        _stall.CancelAfter(Timeout.InfiniteTimeSpan);
                        continue;
                    }

                    if (_flushing)
                    {
                        return; // the control queue is empty: the farewell may follow
                    }

                    MediaFrame? frame = _outbox.TakeFrame(out _);
                    if (frame is null)
                    {
                        break;
                    }

                    try
                    {
                        ArraySegment<byte> header = FrameFraming.V2Header(frame);
                        _stall.CancelAfter(_stallTimeout);
                        await _link.SendFrameAsync(header, frame.PayloadSegment);
                        _stall.CancelAfter(Timeout.InfiniteTimeSpan);
                        _sent.OnSent(header.Count + frame.DataLength, Clock.NowMicros() - frame.Header.CaptureMicros);
                    }
                    finally
                    {
                        frame.Release();
                    }
                }

                if (_closing || _flushing || _outbox.IsOverflowed)
                {
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            if (!ex.IsDisconnect())
            {
                HubLog.Failed(_logger, Remote, ex);
            }

            _sendFailed = true;
            _closing = true;
            try
            {
                await _receiveTimeout.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>A write has waited <see cref="_stallTimeout"/>: closing the socket is the only way to end it.</summary>
    private void OnSendStalled()
    {
        _sendStalled = true;
        _link.Abort();
    }

    /// <summary>Stops the send loop after what it is writing, then writes the farewell (given up after the grace period) and closes.</summary>
    private async Task CloseAsync(Task? sendLoop, byte[]? farewell, ErrorCode code, bool flushControl)
    {
        if (flushControl)
        {
            _flushing = true; // the send loop sends the control queue, no more frames, then stops
        }
        else
        {
            _closing = true;
        }

        _outbox.Wake();
        try
        {
            if (sendLoop is not null)
            {
                await sendLoop.WaitAsync(_options.ShutdownGrace).ConfigureAwait(false);
            }

            if (!_sendFailed && !_sendStalled)
            {
                if (farewell is not null)
                {
                    using var grace = new CancellationTokenSource(_options.ShutdownGrace);
                    await _link.SendAsync(farewell, grace.Token);
                }

                // The peer may still be sending (a flood that was just cut off): without this its unread requests
                // would turn our close into a reset that can destroy the farewell before the peer reads it. After the
                // peer's own GOODBYE it is the transport's polite close (a WebSocket's close frame).
                await _link.CloseAsync(code, TimeSpan.FromTicks(Math.Min(_options.ShutdownGrace.Ticks, LingerLimit.Ticks)));
            }
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException || ex.IsDisconnect())
        {
        }
        finally
        {
            _outbox.Close();
            _link.Dispose();
            if (sendLoop is not null)
            {
                try
                {
                    await sendLoop.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException || ex.IsDisconnect())
                {
                }
            }

            _stall.Dispose();
        }
    }
}
