using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Auth;
using SocketCam.Diagnostics;
using SocketCam.Limits;
using SocketCam.Protocol;
using SocketCam.Transport;

using SocketCam.Rooms;

namespace SocketCam.Hub;

/// <summary>
/// One client of the hub over a stream socket. The receive loop parses what the client sends; the send loop of its
/// <see cref="ViewerFeed"/> is the only writer of the socket after the handshake, sending control messages (PONG,
/// SIGNAL, the farewell ERROR or GOODBYE) first and then the newest frame. This class only writes one item.
/// </summary>
internal sealed class HubConnection : IRoomViewer, IClientStats, IViewerWriter
{
    private readonly Socket _socket;
    private readonly HubServer _hub;
    private readonly SessionOptions _options;
    private readonly ILogger _logger;
    private readonly ViewerFeed _feed;
    private readonly ReceiveCounters _received = new();
    private readonly CancellationTokenSource _receiveTimeout;
    private volatile bool _sendFailed;
    private readonly TlsAcceptor? _tls;
    private ConnectionStream? _stream;

    /// <summary>A plaintext client on a TLS listener: it is answered in plaintext, with the one line saying to use tls://.</summary>
    private bool _plaintextOnTls;
    private ParticipantConnection? _v2;
    private readonly AddressKey? _address;
    private PublishRateLimit? _publishLimit;

    /// <param name="address">The peer's address for the per-address limits; null for a Unix socket peer.</param>
    /// <param name="tls">The listener's TLS, or null for plaintext.</param>
    public HubConnection(Socket socket, AddressKey? address, TlsAcceptor? tls, HubServer hub, SessionOptions options, ILogger logger, CancellationToken serverToken)
    {
        _socket = socket;
        _tls = tls;
        _address = address;
        _hub = hub;
        _options = options;
        _logger = logger;
        Remote = socket.Describe();
        _feed = new ViewerFeed(this);
        _receiveTimeout = CancellationTokenSource.CreateLinkedTokenSource(serverToken);
    }

    public VideoSlot Slot => _feed.Slot;

    public string Remote { get; }

    public PeerRole? Role { get; private set; }

    public string? RoomName
    {
        get => _v2?.RoomName ?? _roomName;
        private set => _roomName = value;
    }

    private string? _roomName;

    public string Agent { get; private set; } = "";

    public long FramesSent => _feed.FramesSent;

    public ClientKind Kind => _v2 is not null ? (_v2.Participant?.Hidden == true ? ClientKind.V2Watcher : ClientKind.Participant) : Role switch
    {
        PeerRole.Publisher => ClientKind.Publisher,
        PeerRole.Viewer => ClientKind.Viewer,
        _ => ClientKind.Connecting,
    };

    /// <summary>What it is sent: a v1 viewer's frames, or a v2 participant's (its send loop shares the feed's counters).</summary>
    public ViewerFeed? Feed => Role == PeerRole.Publisher ? null : _feed;

    /// <summary>A v1 publisher's frames, or the frames a v2 participant publishes on all its tracks.</summary>
    public ReceiveCounters? Received => Role == PeerRole.Publisher || _v2 is not null ? _received : null;

    public long FramesDropped => _v2?.FramesDropped ?? (Role == PeerRole.Publisher ? _publishLimit?.Dropped ?? 0 : Slot.Dropped);

    public async Task RunAsync(CancellationToken serverToken)
    {
        // The handshake timeout covers TLS too: a peer that connects and sends nothing, or half a ClientHello, is closed.
        _receiveTimeout.CancelAfter(_options.HandshakeTimeout);
        ConnectionStream? stream = await OpenStreamAsync(serverToken);
        if (stream is null)
        {
            CloseSocket();
            _feed.Close();
            _receiveTimeout.Dispose();
            return;
        }

        _stream = stream;
        await using (stream)
        {
            await RunSessionAsync(stream, serverToken);
        }
    }

    /// <summary>
    /// Plaintext, or on a TLS listener: the first byte decides. A ClientHello gets the TLS handshake (null when it fails or
    /// times out: there is no way to tell that peer anything); anything else is a plaintext client, answered in plaintext.
    /// </summary>
    private async Task<ConnectionStream?> OpenStreamAsync(CancellationToken serverToken)
    {
        try
        {
            _socket.ConfigureForVideo(boundBuffers: true);
            if (_tls is null)
            {
                return ConnectionStream.Plain(_socket);
            }

            byte? first = await TlsAcceptor.PeekFirstByteAsync(_socket, _receiveTimeout.Token);
            if (first is null)
            {
                return null;
            }

            if (first != TlsAcceptor.HandshakeRecord)
            {
                _plaintextOnTls = true;
                return ConnectionStream.Plain(_socket);
            }

            return await _tls.AuthenticateAsync(_socket, _receiveTimeout.Token);
        }
        catch (OperationCanceledException) when (_receiveTimeout.IsCancellationRequested)
        {
            if (serverToken.IsCancellationRequested)
            {
                return null;
            }

            // A stalled handshake counts like a connection that never sent HELLO.
            _hub.Guards.Refusals.Count(Refusal.HandshakeTimeout);
            _hub.Guards.FailedAttempts.RecordFailure(_address);
            HubLog.TlsFailed(_logger, Remote, $"no TLS handshake within {_options.HandshakeTimeout.TotalSeconds:0.#} s");
            return null;
        }
        catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException || ex.IsDisconnect())
        {
            HubLog.TlsFailed(_logger, Remote, ex.InnerException?.Message ?? ex.Message);
            return null;
        }
    }

    private async Task RunSessionAsync(ConnectionStream stream, CancellationToken serverToken)
    {
        // Segments of IncomingFrameGuard.ReadSize (the most one read adds, which the frames-in-flight budget counts on), from
        // a pool that keeps few spares, so a burst's memory does not stay parked after it.
        PipeReader reader = PipeReader.Create(stream.Stream, new StreamPipeReaderOptions(pool: ReceiveSegmentPool.Instance, bufferSize: IncomingFrameGuard.ReadSize, minimumReadSize: 32 * 1024, leaveOpen: true));
        Task? sendLoop = null;
        Room? room = null;
        string leaveReason = "closed";
        bool rejected = false;
        bool seated = false;
        bool v2Done = false;
        try
        {
            await SendDirectAsync(static b => MessageWriter.WritePreface(b), serverToken);
            ushort version = await ReadPrefaceAsync(reader, serverToken);
            if (_plaintextOnTls)
            {
                // v1 and v2 share ERROR's layout and both read it right after the preface: one answer serves both.
                throw new ProtocolException(ErrorCode.Malformed, Transport.PortHints.SpeaksTls("this hub's port", LocalAddress()));
            }

            if (version == ProtocolV2.Version)
            {
                // Version 2 (docs/PROTOCOL.md Part II): a participant session owns the socket from here to its close.
                _v2 = new ParticipantConnection(new SocketParticipantLink(_socket, stream), _address, _hub, _options, _logger, Remote, _receiveTimeout, _feed.Counters, _received);
                v2Done = true;
                await _v2.RunAsync(reader, serverToken);
                return;
            }

            (HelloMessage hello, bool udpKey) = await ReadHelloAsync(reader, serverToken);
            if (udpKey && !stream.IsTls)
            {
                throw new ProtocolException(ErrorCode.Malformed, "encrypted UDP keys are given only over TLS");
            }

            AccessGrants grants = Authorize(hello.Token, hello.Room, hello.Role == PeerRole.Publisher ? AccessGrants.Publish : AccessGrants.Subscribe);
            _hub.Guards.FailedAttempts.RecordSuccess(_address);
            if (udpKey)
            {
                await GiveUdpKeyAsync(hello, grants, serverToken);
                return;
            }

            Role = hello.Role;
            RoomName = hello.Room;
            Agent = hello.Agent;
            room = _hub.OpenRoom(hello.Room, grants);
            if (hello.Role == PeerRole.Publisher)
            {
                if (!room.TryClaimPublisher(this, hello.Agent.Length == 0 ? "v1 publisher" : hello.Agent, _socket.AddressFamily == System.Net.Sockets.AddressFamily.Unix ? ParticipantTransport.Unix : ParticipantTransport.Tcp))
                {
                    throw new ProtocolException(ErrorCode.RoomBusy, $"Room '{hello.Room}' already has a publisher.");
                }

                seated = true;
            }

            var welcome = new WelcomeMessage(_hub.NextSessionId(), Clock.NowMicros(), (uint)_options.MaxFrameBytes);
            await SendDirectAsync(b => MessageWriter.WriteWelcome(b, welcome), serverToken);
            HubLog.Joined(_logger, Remote, hello.Room, hello.Role.ToString().ToLowerInvariant(), hello.Agent);
            sendLoop = SendLoopAsync();
            if (hello.Role == PeerRole.Viewer)
            {
                room.AddViewer(this);
            }

            leaveReason = await ReceiveLoopAsync(reader, room, serverToken);
        }
        catch (ProtocolException ex)
        {
            rejected = true;
            if (Role is null && ex.Code != ErrorCode.Throttled)
            {
                // A failed handshake (garbage, a malformed HELLO, a wrong token) counts toward this address's throttle.
                _hub.Guards.FailedAttempts.RecordFailure(_address);
            }

            HubLog.Rejected(_logger, Remote, ex.Code.ToWireName(), ex.Message);
            Enqueue(b => MessageWriter.WriteClose(b, MessageType.Error, ex.Code, ex.Message), farewell: true);
        }
        catch (OperationCanceledException) when (serverToken.IsCancellationRequested)
        {
            leaveReason = "server shutting down";
            Enqueue(static b => MessageWriter.WriteClose(b, MessageType.Goodbye, ErrorCode.ServerShutdown, "The server is shutting down."), farewell: true);
        }
        catch (OperationCanceledException) when (_sendFailed)
        {
            leaveReason = "connection lost";
        }
        catch (OperationCanceledException) when (_receiveTimeout.IsCancellationRequested)
        {
            bool handshake = Role is null;
            ErrorCode code = handshake ? ErrorCode.HandshakeTimeout : ErrorCode.IdleTimeout;
            string text = handshake
                ? $"No HELLO within {_options.HandshakeTimeout.TotalSeconds:0.#} s."
                : $"Nothing received for {_options.IdleTimeout.TotalSeconds:0.#} s.";
            rejected = handshake;
            if (handshake)
            {
                _hub.Guards.Refusals.Count(Refusal.HandshakeTimeout);
                _hub.Guards.FailedAttempts.RecordFailure(_address);
                HubLog.Rejected(_logger, Remote, code.ToWireName(), text);
            }

            leaveReason = text;
            Enqueue(b => MessageWriter.WriteClose(b, MessageType.Error, code, text), farewell: true);
        }
        catch (Exception ex) when (ex.IsDisconnect())
        {
            leaveReason = "connection lost";
        }
        catch (Exception ex)
        {
            leaveReason = "internal error";
            HubLog.Failed(_logger, Remote, ex);
        }
        finally
        {
            if (v2Done)
            {
                await reader.CompleteAsync();
                _receiveTimeout.Dispose();
            }
            else
            {
                await EndV1Async(room, seated, rejected, leaveReason, sendLoop, reader, serverToken);
            }
        }
    }

    private async Task EndV1Async(Room? room, bool seated, bool rejected, string leaveReason, Task? sendLoop, PipeReader reader, CancellationToken serverToken)
    {
        {
            if (room is not null)
            {
                room.RemoveViewer(this);
                if (seated)
                {
                    // Told before the seat is free, so it cannot land after a new publisher's first frame.
                    // On shutdown the viewers get GOODBYE instead.
                    if (!serverToken.IsCancellationRequested)
                    {
                        room.SetSignal(false, Room.PublisherLeftReason);
                    }

                    room.ReleasePublisher(this);
                }

                _hub.LeaveRoom(room);
            }

            await CloseAsync(sendLoop, reader);
            if (Role is not null && !rejected)
            {
                HubLog.Left(_logger, Remote, RoomName ?? "?", leaveReason, FramesSent, Slot.Dropped);
            }

            _receiveTimeout.Dispose();
        }
    }

    /// <summary>Reads the client's preface: the version this session speaks (1 or 2; anything else is unsupported-version).</summary>
    private async Task<ushort> ReadPrefaceAsync(PipeReader reader, CancellationToken serverToken)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(_receiveTimeout.Token);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool done = false;
            try
            {
                if (_tls is null && !buffer.IsEmpty && buffer.FirstSpan[0] == TlsAcceptor.HandshakeRecord)
                {
                    // Said for the log: the TLS client itself cannot read a plaintext answer.
                    throw new ProtocolException(ErrorCode.BadMagic, "a TLS client on a plaintext port (`serve --tls` puts TLS on it)");
                }

                done = MessageParserV2.TryReadPreface(ref buffer, out ushort version, out _);
                if (done)
                {
                    if (version is not (ProtocolConstants.Version or ProtocolV2.Version))
                    {
                        throw new ProtocolException(ErrorCode.UnsupportedVersion, $"Protocol version {version} is not supported (this hub speaks 1 and 2).");
                    }

                    return version;
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

    /// <summary>
    /// UDP_KEY_REQUEST, authorized like a HELLO: keys for one encrypted UDP session (docs/PROTOCOL.md §2.0 "Encrypted
    /// sessions"), answered over this TLS stream with UDP_KEY, then GOODBYE; the UDP HELLO will be checked again.
    /// </summary>
    private async Task GiveUdpKeyAsync(HelloMessage hello, AccessGrants grants, CancellationToken serverToken)
    {
        if (_hub.Udp is not { } udp)
        {
            throw new ProtocolException(ErrorCode.Malformed, "this hub has no UDP port");
        }

        if (_hub.WhyNotOpen(hello.Room, grants) is { } closed)
        {
            throw new ProtocolException(ErrorCode.NotAllowed, closed);
        }

        SocketCam.Udp.UdpSessionKeys keys = udp.IssueKeys(_address)
            ?? throw new ProtocolException(ErrorCode.TooManyClients, "too many encrypted UDP sessions are waiting to start; retry later");
        await SendDirectAsync(
            b =>
            {
                MessageWriter.WriteHeader(b, MessageType.UdpKey, SocketCam.Udp.UdpSessionKeys.WireSize);
                return ProtocolConstants.MessageHeaderSize + keys.Write(b.AsSpan(ProtocolConstants.MessageHeaderSize));
            },
            serverToken);
        HubLog.Joined(_logger, Remote, hello.Room, "udp key for a " + hello.Role.ToString().ToLowerInvariant(), hello.Agent);
        Enqueue(static b => MessageWriter.WriteClose(b, MessageType.Goodbye, ErrorCode.Normal, "keys given"), farewell: true);
    }

    private async Task<(HelloMessage Hello, bool UdpKey)> ReadHelloAsync(PipeReader reader, CancellationToken serverToken)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(_receiveTimeout.Token);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool done = false;
            try
            {
                // Frame cap 0 before the handshake: an unauthenticated peer can only make the hub buffer a HELLO-sized
                // message; a VIDEO_FRAME header fails at once as too large.
                if (MessageParser.TryReadMessage(ref buffer, maxFrameBytes: 0, out MessageType type, out ReadOnlySequence<byte> payload))
                {
                    done = true;
                    if (_hub.Guards.FailedAttempts.IsBlocked(_address, out TimeSpan retryAfter))
                    {
                        // A guesser is refused before its HELLO (and token) is even looked at.
                        _hub.Guards.Refusals.Count(Refusal.Throttled);
                        throw new ProtocolException(ErrorCode.Throttled, string.Create(
                            System.Globalization.CultureInfo.InvariantCulture,
                            $"too many failed attempts from {_address}; retry in {Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds)):0} s"));
                    }

                    if (type is not (MessageType.Hello or MessageType.UdpKeyRequest))
                    {
                        throw new ProtocolException(ErrorCode.Malformed, $"Expected HELLO first, got {type}.");
                    }

                    // UDP_KEY_REQUEST carries exactly HELLO's fields.
                    return (MessageParser.ParseHello(payload), type == MessageType.UdpKeyRequest);
                }

                if (result.IsCompleted)
                {
                    throw new ProtocolException(ErrorCode.Malformed, "The connection closed during the handshake.");
                }
            }
            finally
            {
                // After the HELLO, what followed it in the same read (a pipelined PING, a first frame) is not "examined":
                // the receive loop's first read must hand it over at once instead of waiting for more bytes.
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

    private AccessGrants Authorize(string token, string room, AccessGrants needed)
    {
        // A Unix socket is guarded by its file's permissions (its owner only, by default), like a loopback-only hub.
        if (_socket.AddressFamily == System.Net.Sockets.AddressFamily.Unix)
        {
            return AccessGrants.All;
        }

        AccessDecision access = _options.Access.Check(token, room, needed);
        if (!access.Allowed)
        {
            _hub.Guards.Refusals.Count(Refusal.Unauthorized);
            throw new ProtocolException(ErrorCode.Unauthorized, "Unauthorized: " + access.Refusal + ".");
        }

        return access.Grants;
    }

    /// <summary>
    /// Reads messages until the client says goodbye or closes; returns why it ended. The idle timeout is re-armed by a
    /// whole message and by a frame in progress that gained bytes (which the minimum data rate then polices), never by
    /// a few bytes of a control message: a byte now and then does not keep a connection open.
    /// </summary>
    private async Task<string> ReceiveLoopAsync(PipeReader reader, Room room, CancellationToken serverToken)
    {
        // Only a publisher may send frames: a viewer's VIDEO_FRAME header fails at once as too large.
        int maxFrameBytes = Role == PeerRole.Publisher ? _options.MaxFrameBytes : 0;
        using IncomingFrameGuard? frames = Role == PeerRole.Publisher ? new IncomingFrameGuard(_hub.Guards, _address, reader) : null;
        var progress = new ReceiveProgress(_receiveTimeout, _options.IdleTimeout, frames, MessageType.VideoFrame);
        progress.Start();
        while (true)
        {
            ReadResult result = await reader.ReadAsync(_receiveTimeout.Token);
            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                bool heard = false;
                while (MessageParser.TryReadMessage(ref buffer, maxFrameBytes, out MessageType type, out ReadOnlySequence<byte> payload))
                {
                    heard = true;
                    progress.OnMessage();
                    switch (type)
                    {
                        case MessageType.VideoFrame when Role == PeerRole.Publisher:
                            // Complete: from here on it is the room's (copied into a MediaFrame), not in flight.
                            frames!.FrameDone();
                            await PublishFrameAsync(payload, room, serverToken);
                            break;
                        case MessageType.VideoFrame:
                            throw new ProtocolException(ErrorCode.Malformed, "Viewers may not send frames.");
                        case MessageType.Signal when Role == PeerRole.Publisher:
                            // The publisher's own source died or came back: that is the room's state now.
                            SignalMessage signal = MessageParser.ParseSignal(payload);
                            room.SetSignal(signal.Live, signal.Text);
                            break;
                        case MessageType.Signal:
                            throw new ProtocolException(ErrorCode.Malformed, "Only a publisher may send SIGNAL.");
                        case MessageType.Ping:
                            PingMessage ping = MessageParser.ParsePing(payload);
                            Enqueue(b => MessageWriter.WritePong(b, new PongMessage(ping.Id, ping.SentMicros, Clock.NowMicros())));
                            break;
                        case MessageType.Pong:
                            MessageParser.ParsePong(payload);
                            break;
                        case MessageType.Goodbye:
                            return "said goodbye";
                        case MessageType.Error:
                            return "error: " + MessageParser.ParseClose(payload).Text;
                        default:
                            throw new ProtocolException(ErrorCode.Malformed, $"Unexpected {type} after the handshake.");
                    }
                }

                if (await progress.AfterParseAsync(buffer, result.IsCompleted, heard) is { } ended)
                {
                    return ended;
                }
            }
            finally
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
            }

            serverToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Copies a publisher's frame, checks it and hands it to the room. Awaiting the room's recorders is the back-pressure:
    /// while a recorder's queue is full this receive loop stops reading, so TCP holds the publisher back. That wait is
    /// the hub's doing, not the publisher's, so the idle timeout does not run meanwhile (the next read re-arms it).
    /// </summary>
    private async ValueTask PublishFrameAsync(ReadOnlySequence<byte> payload, Room room, CancellationToken serverToken)
    {
        _publishLimit ??= new PublishRateLimit(_hub.Guards.Options);
        if (!_publishLimit.TryAdmit((int)payload.Length))
        {
            // Dropped before it is copied or checked: a flooding publisher costs the hub as little as possible.
            _hub.Guards.Refusals.Count(Refusal.PublishRateLimit);
            if (_publishLimit.Dropped == 1)
            {
                HubLog.PublishRateLimited(_logger, Remote, room.Name, _hub.Guards.Options.MaxPublishFps, _hub.Guards.Options.MaxPublishBitrate);
            }

            return;
        }

        MediaFrame shared = CopyFrame(payload);
        try
        {
            ValueTask published = room.PublishAsync(shared, serverToken);
            if (!published.IsCompletedSuccessfully)
            {
                _receiveTimeout.CancelAfter(Timeout.InfiniteTimeSpan);
            }

            await published;
            _received.OnReceived(shared.DataLength);
        }
        finally
        {
            shared.Release();
        }
    }

    private static MediaFrame CopyFrame(ReadOnlySequence<byte> payload)
    {
        VideoFrameHeader header = MessageParser.ParseVideoFrame(payload, out ReadOnlySequence<byte> data);
        int dataLength = (int)data.Length;
        MediaFrame shared = MediaFrame.Rent(dataLength);
        try
        {
            data.CopyTo(shared.WritableData);
            shared.Complete(header, dataLength);
            FrameCheck.Validate(shared);
            return shared;
        }
        catch
        {
            shared.Release();
            throw;
        }
    }

    /// <summary>Records the room's newest signal state for the send loop, which sends it before the next frame.</summary>
    public void OnSignal(SignalMessage message) => _feed.OnSignal(message);

    /// <summary>
    /// Queues a control message for the send loop (before it runs, the close path flushes the queue). After a
    /// <paramref name="farewell"/> (ERROR or GOODBYE) nothing more is queued.
    /// </summary>
    private void Enqueue(Func<byte[], int> write, bool farewell = false)
    {
        byte[] buffer = new byte[MessageWriter.MaxControlMessageSize];
        int length = write(buffer);
        Array.Resize(ref buffer, length);
        if (!_feed.EnqueueControl(buffer, farewell))
        {
            // A client that pings faster than it reads its answers (the feed stops sending): end the receive loop too,
            // so the connection really closes (as after a failed send).
            _sendFailed = true;
            try
            {
                _receiveTimeout.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private async Task SendLoopAsync()
    {
        try
        {
            // No token: the loop ends when the close path finishes the feed (or a send fails).
            await _feed.RunAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex.IsDisconnect())
        {
            // Wake the receive loop, which reports the disconnect.
            await StopReceivingAsync();
        }
        catch (Exception ex)
        {
            HubLog.Failed(_logger, Remote, ex);
            await StopReceivingAsync();
        }
    }

    async ValueTask<int> IViewerWriter.WriteFrameAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        ArraySegment<byte> header = FrameFraming.V1Header(frame);
        await _stream!.SendFrameAsync(header, frame.PayloadSegment);
        return header.Count + frame.DataLength;
    }

    async ValueTask IViewerWriter.WriteSignalAsync(SignalMessage signal, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[MessageWriter.MaxControlMessageSize];
        int length = MessageWriter.WriteSignal(buffer, signal);
        await _stream!.SendAsync(buffer.AsMemory(0, length), cancellationToken);
    }

    ValueTask IViewerWriter.WriteControlAsync(byte[] message, CancellationToken cancellationToken) =>
        _stream!.SendAsync(message, cancellationToken);

    /// <summary>The send side is done for good: mark the connection lost and wake the receive loop.</summary>
    private async Task StopReceivingAsync()
    {
        _sendFailed = true;
        _feed.Finish();
        try
        {
            await _receiveTimeout.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The connection already finished.
        }
    }

    private async ValueTask SendDirectAsync(Func<byte[], int> write, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[MessageWriter.MaxControlMessageSize];
        int length = write(buffer);
        await _stream!.SendAsync(buffer.AsMemory(0, length), cancellationToken);
    }

    /// <summary>Lets the send loop flush what is queued (an ERROR or GOODBYE), then closes the socket.</summary>
    private async Task CloseAsync(Task? sendLoop, PipeReader reader)
    {
        _feed.Finish();
        try
        {
            // Without a send loop (a refused handshake), the feed's loop runs once to flush the ERROR and ends.
            Task flush = sendLoop ?? _feed.RunAsync(CancellationToken.None);
            try
            {
                // A peer that does not read cannot hold shutdown hostage: the socket is closed after the grace period.
                await flush.WaitAsync(_options.ShutdownGrace).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Closing anyway (a failed flush is observed and reported below).
            }
            finally
            {
                CloseSocket();
                try
                {
                    // Closing the socket ends a send stuck on a peer that does not read, so this wait is short;
                    // awaiting it also observes its exception instead of abandoning a faulted task.
                    await flush.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException || ex.IsDisconnect())
                {
                }
                catch (Exception ex)
                {
                    HubLog.Failed(_logger, Remote, ex);
                }
            }
        }
        finally
        {
            try
            {
                await reader.CompleteAsync();
            }
            finally
            {
                _feed.Close();
            }
        }
    }

    /// <summary>The address and port this peer connected to, as a client would type it.</summary>
    private string LocalAddress() => _socket.LocalEndPoint is System.Net.IPEndPoint local
        ? (local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4().ToString() : local.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{local.Address}]" : local.Address.ToString()) + ":" + local.Port
        : "HOST:PORT";

    private void CloseSocket()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex.IsDisconnect())
        {
        }
        finally
        {
            _socket.Dispose();
        }
    }
}
