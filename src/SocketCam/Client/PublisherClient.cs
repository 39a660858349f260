using SocketCam.Audio;
using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Hub;
using SocketCam.Rooms;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Sources;
using SocketCam.Transport;
using SocketCam.Udp;

namespace SocketCam.Client;

/// <summary>
/// Feeds a room from a local source: capture → encode → send, with capture times moved to the hub's clock.
/// TCP back-pressure paces it; a paced source skips ahead rather than queueing when the network is slow.
/// </summary>
internal sealed class PublisherClient
{
    private readonly StreamEndpoint _endpoint;
    private readonly ClientOptions _options;
    /// <summary>Pause before a failed source is started again.</summary>
    private static readonly TimeSpan SourceRetryDelay = TimeSpan.FromSeconds(2);

    private readonly IFrameSource _source;
    private readonly IFrameEncoder _encoder;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _signalLock = new(1, 1);
    private volatile ClientSession? _session;
    private volatile UdpClientSession? _udpSession;

    // Null while the source is live. Kept across sessions, so a hub we reconnect to hears that the source is still down.
    private volatile string? _noSignalReason;
    private long _framesSent;
    private long _bytesSent;
    private int _reconnects;

    public PublisherClient(StreamEndpoint endpoint, ClientOptions options, IFrameSource source, IFrameEncoder encoder, ILoggerFactory? loggerFactory = null)
    {
        _endpoint = endpoint;
        _options = options;
        _source = source;
        _encoder = encoder;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SocketCam.Publish");
    }

    public long FramesSent => Interlocked.Read(ref _framesSent);

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public int Reconnects => Volatile.Read(ref _reconnects);

    /// <summary>While not connected and waiting to try again: why and when (the status line shows it; only the first failure of a kind is logged).</summary>
    public RetryState? Retry
    {
        get => _retry;
        private set => _retry = value;
    }

    private volatile RetryState? _retry;

    public double RttMilliseconds { get; private set; }

    /// <summary>
    /// Called on the send loop with each encoded frame just before it is sent (capture time still on this process's clock),
    /// e.g. a local preview. The frame is valid only during the call: take a reference to keep it. Must not block.
    /// </summary>
    internal Action<MediaFrame>? FrameEncoded { get; set; }

    /// <summary>Sound sent with the video over UDP (AUDIO datagrams, docs/PROTOCOL.md §2.0 "Audio"); null: video only.</summary>
    internal AudioTrackEncoder? Audio { get; init; }

    /// <summary>Audio packets sent (DTX silence is not sent).</summary>
    public long AudioPacketsSent => Interlocked.Read(ref _audioPacketsSent);

    private long _audioPacketsSent;

    public Task RunAsync(CancellationToken cancellationToken) =>
        Reconnector.RunAsync(_endpoint, _options, _logger, UdpClientSession.IsUdp(_endpoint) ? RunUdpSessionAsync : RunSessionAsync, (reason, delay) =>
        {
            Interlocked.Increment(ref _reconnects);
            Retry = new RetryState(reason, DateTime.UtcNow + delay, Reconnects);
        }, cancellationToken);

    /// <summary>UDP only: what loss recovery cost so far (parity and resent bytes) against the picture bytes, all sessions.</summary>
    public (long DataBytes, long RecoveryBytes) UdpBytes => (Interlocked.Read(ref _udpDataBytes), Interlocked.Read(ref _udpRecoveryBytes));

    private long _udpDataBytes;
    private long _udpRecoveryBytes;
    private long _keyframeRequests;

    /// <summary>KEYFRAME_REQUESTs the hub sent over UDP (each made the encoder's next frame a keyframe).</summary>
    public long KeyframeRequests => Interlocked.Read(ref _keyframeRequests);

    /// <summary>
    /// Tells the hub (SIGNAL) whether this publisher's source is live, so the room's viewers see "no signal" and why.
    /// For the capture loop: false when the source dies (the reason, e.g. ffmpeg's last error line, is shown to
    /// viewers), true when it is back (optional: the next frame says so too). Safe from any thread. The state outlives
    /// the session: while disconnected it is kept, and a no-signal is sent again right after each WELCOME until a frame
    /// goes out. A send that fails because the connection is gone is not thrown: the session's loops report that.
    /// </summary>
    public async ValueTask SendSignalAsync(bool live, string reason, CancellationToken cancellationToken)
    {
        string text = MessageWriter.Printable(reason).Trim();
        // One sender of SIGNAL at a time, so a state change and the re-send after WELCOME cannot swap places.
        await _signalLock.WaitAsync(cancellationToken);
        try
        {
            _noSignalReason = live ? null : text;
            _udpSession?.SendSignal(new SignalMessage(live, text));
            if (_session is { } session)
            {
                await TrySendSignalAsync(session, new SignalMessage(live, text), cancellationToken);
            }
        }
        finally
        {
            _signalLock.Release();
        }
    }

    private async Task RunSessionAsync(CancellationToken cancellationToken)
    {
        await using ClientSession session = await ClientSession.ConnectAsync(_endpoint, PeerRole.Publisher, _options, cancellationToken);
        ClientLog.Connected(_logger, _endpoint.ToString(), _options.Room, session.Welcome.SessionId);
        Retry = null;
        await AttachAsync(session, cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task pings = session.PingLoopAsync(_options.PingInterval, stop.Token);
        Task receive = session.ReceiveAsync(0, _options.IdleTimeout, onFrame: null, onSignal: null, () => RttMilliseconds = session.LastRttMilliseconds, stop.Token);
        Task send = SendLoopAsync(session, stop.Token);
        try
        {
            // Whichever ends first (the hub closed, an error, the source ended) ends the session.
            Task first = await Task.WhenAny(receive, send);
            await first;
        }
        finally
        {
            // Not under the signal lock: a signal send stuck on this session ends when the session is disposed.
            _session = null;
            await stop.CancelAsync();
            await Task.WhenAll(pings, receive, send).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await session.CloseAsync();
        }
    }

    /// <summary>
    /// Publishes over UDP (docs/PROTOCOL.md §2.0): frames are fragmented with parity by a <see cref="UdpFrameSender"/>,
    /// paced, and resent where the hub NACKs; the hub's REPORTs adapt the parity. One lock keeps the frame loop and the
    /// NACK answers from interleaving their use of the sender.
    /// </summary>
    private async Task RunUdpSessionAsync(CancellationToken cancellationToken)
    {
        using UdpClientSession session = await UdpClientSession.ConnectAsync(_endpoint, PeerRole.Publisher, _options, _options.UdpRecovery, cancellationToken);
        UdpLog.Connected(_logger, session.SessionId.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), session.Server, _options.Room, _options.UdpRecovery ? "" : " (loss recovery off)");
        Retry = null;
        using var sender = new UdpFrameSender(session.SendControl, session.SessionId, _options.UdpRecovery, _options.UdpPacingBytesPerSecond);
        var soundSender = new UdpAudioSender(session.SendControl, session.SessionId);
        using var sending = new SemaphoreSlim(1, 1);
        using var done = new SemaphoreSlim(0);
        var nacked = new AsyncSignal();
        await _signalLock.WaitAsync(cancellationToken);
        try
        {
            if (_noSignalReason is { } reason)
            {
                session.SendSignal(new SignalMessage(false, reason));
            }

            _udpSession = session;
        }
        finally
        {
            _signalLock.Release();
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task pings = session.PingLoopAsync(stop.Token);
        Task receive = session.ReceiveAsync(
            (type, datagram) =>
            {
                if (type == DatagramType.Nack && UdpWire.TryReadNack(datagram.Span, out UdpNack nack) && sender.OnNack(nack))
                {
                    nacked.Set();
                }
                else if (type == DatagramType.AudioNack && UdpWire.TryReadAudioNack(datagram.Span, out ReadOnlySpan<byte> ids))
                {
                    soundSender.OnNack(ids, Clock.NowMicros());
                }
                else if (type == DatagramType.Done && UdpWire.TryReadDone(datagram.Span, out uint doneId))
                {
                    sender.OnDone(doneId);
                    done.Release();
                }
                else if (type == DatagramType.Report && UdpWire.TryReadReport(datagram.Span, out UdpReport report))
                {
                    sender.OnReport(report);
                    RttMilliseconds = session.LastRttMicros / 1000.0;
                }
                else if (type == DatagramType.KeyframeRequest && UdpWire.TryReadKeyframeRequest(datagram.Span, out _))
                {
                    // The hub coalesced its viewers' requests (§4.9); an encoder of all-keyframe codecs ignores it.
                    Interlocked.Increment(ref _keyframeRequests);
                    _encoder.RequestKeyframe();
                }

                return ValueTask.CompletedTask;
            },
            stop.Token);
        Task resend = ResendLoopAsync(sender, sending, nacked, stop.Token);
        Task send = UdpSendLoopAsync(session, sender, sending, done, (int)Math.Min(session.Welcome.MaxFrameBytes, (uint)_options.MaxFrameBytes), stop.Token);
        Task sound = Audio is { } audio ? UdpAudioLoopAsync(session, soundSender, audio, stop.Token) : Task.CompletedTask;
        try
        {
            Task first = await Task.WhenAny(receive, send);
            await first;
        }
        finally
        {
            _udpSession = null;
            await stop.CancelAsync();
            await Task.WhenAll(pings, receive, send, resend, sound).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            Interlocked.Add(ref _udpDataBytes, sender.DataBytes);
            Interlocked.Add(ref _udpRecoveryBytes, sender.RecoveryBytes);
            // However the session ended (Ctrl+C, the source ended, an error), unless the hub ended it: free the seat now
            // rather than at the hub's idle timeout.
            if (!session.ServerSaidBye)
            {
                session.SendBye(ErrorCode.Normal, cancellationToken.IsCancellationRequested ? "bye" : "publisher stopped");
            }
        }
    }

    /// <summary>
    /// One AUDIO datagram per Opus packet, as it is encoded (not paced with the frames: a packet is small and must not
    /// wait behind a frame's train). A source that fails stops the sound only; the video goes on.
    /// </summary>
    private async Task UdpAudioLoopAsync(UdpClientSession session, UdpAudioSender sender, AudioTrackEncoder audio, CancellationToken cancellationToken)
    {
        try
        {
            while (await audio.ReadLiveAsync(cancellationToken) is { } packet)
            {
                try
                {
                    FrameInfo info = packet.Header with { CaptureMicros = packet.Header.CaptureMicros + session.ClockOffsetMicros };
                    if (sender.Send(info, audio.Format.Channels, packet.Payload.Span, Clock.NowMicros()) > 0)
                    {
                        Interlocked.Increment(ref _audioPacketsSent);
                    }
                }
                finally
                {
                    packet.Release();
                }
            }

            ClientLog.AudioStopped(_logger, audio.Failure!);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static async Task ResendLoopAsync(UdpFrameSender sender, SemaphoreSlim sending, AsyncSignal nacked, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await nacked.WaitAsync(cancellationToken);
                await sending.WaitAsync(cancellationToken);
                try
                {
                    await sender.ResendRequestedAsync(cancellationToken);
                }
                finally
                {
                    sending.Release();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private Task UdpSendLoopAsync(UdpClientSession session, UdpFrameSender sender, SemaphoreSlim sending, SemaphoreSlim done, int maxFrame, CancellationToken cancellationToken) =>
        SendFramesAsync(
            maxFrame,
            async (message, ct) =>
            {
                VideoFrameHeader header = message.Header with { CaptureMicros = message.Header.CaptureMicros + session.ClockOffsetMicros };
                // Flow control: at most four frames the hub is not done with.
                while (!sender.CanSendFrame(Clock.NowMicros(), out TimeSpan wait))
                {
                    await done.WaitAsync(wait, ct);
                }

                await sending.WaitAsync(ct);
                try
                {
                    await sender.SendFrameAsync(header, message.Payload, ct);
                }
                finally
                {
                    sending.Release();
                }
            },
            cancellationToken);

    /// <summary>
    /// The frame loop both transports share: the next encoded frame, checked against the hub's cap, shown to the local
    /// preview, handed to <paramref name="send"/> (which moves its capture time to the hub's clock), counted.
    /// </summary>
    private async Task SendFramesAsync(int maxFrame, Func<MediaFrame, CancellationToken, ValueTask> send, CancellationToken cancellationToken)
    {
        while (true)
        {
            MediaFrame? message = await ReadFrameAsync(cancellationToken);
            if (message is null)
            {
                continue;
            }

            try
            {
                CheckSize(message, maxFrame);
                FrameEncoded?.Invoke(message);
                await send(message, cancellationToken);
                if (_noSignalReason is not null)
                {
                    // The hub took the frame as "live again"; a reconnect must not repeat the old no-signal.
                    _noSignalReason = null;
                }

                Interlocked.Increment(ref _framesSent);
                Interlocked.Add(ref _bytesSent, ProtocolConstants.FrameMessageOverhead + message.DataLength);
            }
            finally
            {
                message.Release();
            }
        }
    }

    /// <summary>The next encoded frame; null after a source failure was reported (the caller simply asks again).</summary>
    private async ValueTask<MediaFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await FrameEncoding.ReadAsync(_source, _encoder, cancellationToken) ?? throw new SourceEndedException();
        }
        catch (SourceFailedException ex)
        {
            // A live source (camera, screen) failed: keep the session, retry the source with a pause.
            ClientLog.SourceFailed(_logger, ex.Message, SourceRetryDelay.TotalSeconds);
            await SendSignalAsync(false, ex.Message, cancellationToken); // viewers see NO SIGNAL with the reason
            await Task.Delay(SourceRetryDelay, cancellationToken);
            return null;
        }
    }

    private static void CheckSize(MediaFrame message, int maxFrame)
    {
        if (message.DataLength > maxFrame)
        {
            throw new UserFacingException($"A {message.DataLength}-byte frame exceeds the hub's {maxFrame}-byte limit: lower --size or --quality.");
        }
    }

    /// <summary>Repeats a no-signal the source reported, then makes <paramref name="session"/> the one SIGNALs go to.</summary>
    private async Task AttachAsync(ClientSession session, CancellationToken cancellationToken)
    {
        await _signalLock.WaitAsync(cancellationToken);
        try
        {
            if (_noSignalReason is { } reason)
            {
                await TrySendSignalAsync(session, new SignalMessage(false, reason), cancellationToken);
            }

            _session = session;
        }
        finally
        {
            _signalLock.Release();
        }
    }

    private static async ValueTask TrySendSignalAsync(ClientSession session, SignalMessage signal, CancellationToken cancellationToken)
    {
        try
        {
            await session.SendSignalAsync(signal, cancellationToken);
        }
        catch (Exception ex) when (ex.IsDisconnect())
        {
            // The connection is gone (or going): its receive loop reports that; the state is re-sent after the next WELCOME.
        }
    }

    private Task SendLoopAsync(ClientSession session, CancellationToken cancellationToken) =>
        SendFramesAsync(
            (int)Math.Min(session.Welcome.MaxFrameBytes, (uint)_options.MaxFrameBytes),
            (message, ct) =>
            {
                // The publisher owns its frame until it is sent: its capture time moves to the hub's clock in place.
                message.SetCaptureMicros(message.Header.CaptureMicros + session.ClockOffsetMicros);
                FrameFraming.Stamp(message, message.Header.Sequence);
                return session.SendFrameAsync(FrameFraming.V1Header(message), message.Payload, ct);
            },
            cancellationToken);
}

/// <summary>A finite source has no more frames: the publisher is done (this is not retried like a lost connection).</summary>
public sealed class SourceEndedException : Exception
{
    public SourceEndedException()
        : base("The source ended.")
    {
    }

    public SourceEndedException(string message)
        : base(message)
    {
    }

    public SourceEndedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
