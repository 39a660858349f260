using System.Net;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Diagnostics;
using SocketCam.Rooms;
using SocketCam.Protocol;
using SocketCam.Udp;

namespace SocketCam.Hub;

/// <summary>
/// A viewer over UDP, on the hub: a room viewer like any other (its <see cref="ViewerFeed"/>: one-frame slot, newest
/// wins, skips counted, the send loop) that fragments each frame through a <see cref="UdpFrameSender"/>, answers the
/// viewer's NACKs between frames and holds frames back while 4 are in flight (flow control). PINGs are answered at once
/// from the receive loop (a PONG is one small datagram; no ordering with frames matters). A viewer that asked for sound
/// (HELLO's audio flag) also gets the watched participant's Opus packets, one AUDIO datagram each, ahead of the frames
/// and outside their flow control; its AUDIO_NACKs are answered from the receive loop (<see cref="UdpAudioSender"/>).
/// A viewer that takes H.264 (HELLO flag bit 3) gets an H.264 primary as it is, others the room's JPEG; its
/// KEYFRAME_REQUESTs go to the primary track's coalescer, which limits what reaches the encoder.
/// </summary>
internal sealed class UdpViewerSession : IUdpSession, IRoomViewer, IRoomAudioViewer, IClientStats, IViewerWriter
{
    private static readonly long SignalRepeatMicros = 1_000_000;

    private readonly UdpHubListener _listener;
    private readonly Room _room;
    private readonly UdpOptions _options;
    private readonly ILogger _logger;
    private readonly UdpHello _hello;
    private readonly ViewerFeed _feed;
    private readonly UdpFrameSender _sender;
    private readonly UdpAudioSender? _audio;
    private (uint, ushort) _lastAudioFrom;
    private readonly UdpSessionEnd _end = new();
    private readonly Timer _windowTimer;
    private readonly byte[] _control = new byte[UdpWire.MaxDatagram];
    private long _framesLostReported;
    private long _fragmentsLostReported;
    private long _fragmentsExpectedReported;

    public UdpViewerSession(UdpHubListener listener, PendingUdpSession pending, Room room, UdpOptions options, ILogger logger)
    {
        _listener = listener;
        _room = room;
        _options = options;
        _logger = logger;
        _hello = pending.Hello;
        Id = pending.Id;
        Address = pending.Address;
        Seal = pending.Seal;
        Remote = UdpHubListener.Describe(pending.Address);
        _feed = new ViewerFeed(this);
        _windowTimer = new Timer(static state => ((ViewerFeed)state!).Wake(), _feed, Timeout.Infinite, Timeout.Infinite);
        bool recovery = !pending.Hello.NoLossRecovery;
        _sender = new UdpFrameSender(d => _listener.SendTo(d, Address, Seal), Id, recovery, options.PacingBytesPerSecond);
        if (pending.Hello.WantsAudio)
        {
            _audio = new UdpAudioSender(d => _listener.SendTo(d, Address, Seal), Id);
            _feed.EnableAudio();
        }
    }

    public ulong Id { get; }

    public SocketAddress Address { get; }

    public DatagramSeal? Seal { get; }

    public VideoSlot Slot => _feed.Slot;

    public ClientKind Kind => ClientKind.UdpViewer;

    public string Remote { get; }

    public string? RoomName => _room.Name;

    public ViewerFeed Feed => _feed;

    /// <summary>HELLO flag bit 3: H.264 frames as they are (the room then skips the transcoder for it).</summary>
    public bool AcceptsH264 => _hello.TakesH264;

    /// <summary>KEYFRAME_REQUESTs the viewer sent (each handed to the primary track's coalescer, which absorbs most of a flood).</summary>
    public long KeyframeRequests => Interlocked.Read(ref _keyframeRequests);

    private long _keyframeRequests;

    public long FramesSent => _feed.FramesSent;

    /// <summary>Everything on the wire: the pictures (counted by the feed) and what loss recovery added (parity, resends).</summary>
    public long BytesSent => _feed.BytesSent + _sender.RecoveryBytes;

    /// <summary>Loss the viewer reported (all reports so far): fragments lost before recovery / expected, in percent.</summary>
    public double LossPercent
    {
        get
        {
            long expected = Interlocked.Read(ref _fragmentsExpectedReported);
            return expected == 0 ? 0 : 100.0 * Interlocked.Read(ref _fragmentsLostReported) / expected;
        }
    }

    public long FramesLostReported => Interlocked.Read(ref _framesLostReported);

    public UdpFrameSender Sender => _sender;

    /// <summary>Parity and resent bytes as a share of the picture bytes sent.</summary>
    public double RecoveryPercent => _sender.DataBytes == 0 ? 0 : 100.0 * _sender.RecoveryBytes / _sender.DataBytes;

    public void OnSignal(SignalMessage message) => _feed.OnSignal(message);

    void IRoomAudioViewer.OfferAudio(MediaFrame frame) => _feed.OfferAudio(frame);

    /// <summary>Audio packets sent (0 unless the viewer asked for sound).</summary>
    public long AudioPacketsSent => _audio?.PacketsSent ?? 0;

    public void OnDatagram(DatagramType type, ReadOnlySpan<byte> datagram)
    {
        _end.Heard();
        switch (type)
        {
            case DatagramType.Ping when UdpWire.TryReadPing(datagram, out PingMessage ping):
                Span<byte> pong = stackalloc byte[UdpWire.PongSize];
                UdpWire.WritePong(pong, Id, new PongMessage(ping.Id, ping.SentMicros, Clock.NowMicros()));
                _listener.SendTo(pong, Address, Seal);
                break;
            case DatagramType.Nack when UdpWire.TryReadNack(datagram, out UdpNack nack):
                if (_sender.OnNack(nack))
                {
                    _feed.Wake();
                }

                break;
            case DatagramType.AudioNack when _audio is not null && UdpWire.TryReadAudioNack(datagram, out ReadOnlySpan<byte> ids):
                _audio.OnNack(ids, Clock.NowMicros());
                break;
            case DatagramType.KeyframeRequest:
                if (!UdpWire.TryReadKeyframeRequest(datagram, out _))
                {
                    _listener.Drops.OnMalformed();
                }
                else if (AcceptsH264)
                {
                    // The coalescer rate-limits per track (§4.9); a JPEG viewer's request means nothing (all keyframes).
                    // Toward the publisher it is §4.6.5's reason 0, "a subscriber asked"; the viewer's reason is for its own logs.
                    Interlocked.Increment(ref _keyframeRequests);
                    _room.PrimaryTrack?.Keyframes.Request(0);
                }

                break;
            case DatagramType.Done when UdpWire.TryReadDone(datagram, out uint doneId):
                _sender.OnDone(doneId);
                _feed.Wake();
                break;
            case DatagramType.Report when UdpWire.TryReadReport(datagram, out UdpReport report):
                _sender.OnReport(report);
                Interlocked.Add(ref _fragmentsExpectedReported, report.FragmentsExpected);
                Interlocked.Add(ref _fragmentsLostReported, report.FragmentsLost);
                Interlocked.Add(ref _framesLostReported, report.FramesLost);
                break;
            case DatagramType.Bye when UdpWire.TryReadBye(datagram, out CloseMessage bye):
                _end.PeerLeft("viewer", bye.Text);
                break;
            default:
                _listener.Drops.OnNotAllowed();
                break;
        }
    }

    public void Tick(long nowMicros)
    {
        if (_end.IsIdle(nowMicros, _options.IdleTimeout))
        {
            End(ErrorCode.IdleTimeout, $"Nothing heard for {_options.IdleTimeout.TotalSeconds:0.#} s.");
            return;
        }

        // Datagrams get lost: a no-signal state is said again every second while it lasts.
        _feed.RepeatNoSignal(nowMicros, SignalRepeatMicros);
    }

    public void End(ErrorCode code, string reason) => _end.End(code, reason);

    public async Task RunAsync(CancellationToken serverToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(serverToken, _end.Token);
        string recovery = _hello.NoLossRecovery ? " without loss recovery" : "";
        UdpLog.Joined(_logger, Remote, _room.Name, "viewer", _hello.Agent, recovery);
        _room.AddViewerWithLatestFrame(this);

        string reason = "closed";
        try
        {
            // Ends only when the session is to end (the feed has no other way out here).
            await _feed.RunAsync(stop.Token);
            reason = _end.Reason(serverToken);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            reason = _end.Reason(serverToken);
        }
        finally
        {
            // Whatever ended the loop (even a bug): the viewer hears BYE and every pooled buffer goes back.
            _room.RemoveViewer(this);
            _feed.Close();
            if (_end.Bye(serverToken, reason) is { } bye)
            {
                byte[] datagram = new byte[UdpWire.MaxDatagram];
                _listener.SendTo(datagram.AsSpan(0, UdpWire.WriteBye(datagram, Id, bye)), Address, Seal);
            }

            await _windowTimer.DisposeAsync();
            _sender.Dispose();
        }

        UdpLog.Left(_logger, Remote, _room.Name, reason, FormattableString.Invariant(
            $"sent {FramesSent} frames{AudioSummary()}, {_sender.DataBytes} picture bytes + {_sender.RecoveryBytes} for loss recovery ({RecoveryPercent:0.0}%: parity group {_sender.Group}, {_sender.ResentBytes} resent); the viewer reported {LossPercent:0.00}% loss and {FramesLostReported} frames lost"));
    }

    private string AudioSummary() => _audio is null ? "" : FormattableString.Invariant($" and {_audio.PacketsSent} audio packets ({_audio.Resent} resent, {_feed.AudioDropped} dropped, {_audio.TooLarge} not carried)");

    /// <summary>Resends what the viewer NACKed; a frame may go only while fewer than 4 are in flight (flow control).</summary>
    async ValueTask<bool> IViewerWriter.BeforeFrameAsync(CancellationToken cancellationToken)
    {
        await _sender.ResendRequestedAsync(cancellationToken);
        // While the viewer is not done with 4 frames, the newest waits in the slot (and replaces older ones).
        if (Slot.IsFull && !_sender.CanSendFrame(Clock.NowMicros(), out TimeSpan wait))
        {
            _windowTimer.Change(wait + TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
            return false;
        }

        return true;
    }

    async ValueTask<int> IViewerWriter.WriteFrameAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        if (frame.DataLength > UdpWire.MaxFrameBytes)
        {
            return 0; // more than 65536 fragments: UDP cannot carry it (WELCOME said so); TCP can
        }

        await _sender.SendFrameAsync(frame.Header, frame.Payload, cancellationToken);
        if (_sender.HasNacks)
        {
            _feed.Wake();
        }

        return frame.DataLength;
    }

    ValueTask<int> IViewerWriter.WriteAudioAsync(MediaFrame packet, CancellationToken cancellationToken)
    {
        // The room's audio track says its channels; the packet is on the hub's clock, as the viewer expects.
        // A packet of another stream than the last (the primary participant changed) starts the viewer's buffer afresh.
        int channels = _room.HeardAudioChannels;
        bool discontinuity = (packet.ParticipantId, packet.TrackId) != _lastAudioFrom;
        _lastAudioFrom = (packet.ParticipantId, packet.TrackId);
        return new(_audio?.Send(packet.Header, channels, packet.Payload.Span, Clock.NowMicros(), discontinuity) ?? 0);
    }

    ValueTask IViewerWriter.WriteSignalAsync(SignalMessage signal, CancellationToken cancellationToken)
    {
        _listener.SendTo(_control.AsSpan(0, UdpWire.WriteSignal(_control, Id, signal)), Address, Seal);
        return ValueTask.CompletedTask;
    }
}
