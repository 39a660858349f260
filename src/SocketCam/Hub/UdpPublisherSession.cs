using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Codecs.H264;
using SocketCam.Diagnostics;
using SocketCam.Rooms;
using SocketCam.Limits;
using SocketCam.Protocol;
using SocketCam.Udp;

namespace SocketCam.Hub;

/// <summary>
/// A publisher over UDP, on the hub: its fragments are reassembled on the listener's receive loop
/// (<see cref="UdpFrameReceiver"/>, which NACKs and REPORTs back), each complete frame is checked like a TCP publisher's
/// (JPEG structure and size) and handed to a publish loop through a small newest-wins queue, so a recorder that holds the
/// room back never stalls the receive loop every UDP session shares. Reassembly holds only what has arrived, within this
/// session's cap and the hub's shared budget (<see cref="ServerGuards.Reassembly"/>, per address and in total); frames
/// above --max-publish-fps / --max-publish-bitrate are dropped before they reach the room. Its sound (AUDIO datagrams,
/// one Opus packet each) is read by a <see cref="UdpAudioReceiver"/> (duplicates dropped, gaps NACKed) and published as
/// the seat's audio track through a queue of its own, so sound and pictures never push each other out. H.264 (codec 3):
/// each access unit must start with a start code, its keyframe flag comes from its NAL units, and after any frame of
/// it was lost (on the wire, over the rate limit, pushed out of the queue) nothing is published until a keyframe, which
/// is asked for through the seat track's coalescer; the coalesced requests reach the publisher as KEYFRAME_REQUEST.
/// </summary>
internal sealed class UdpPublisherSession : IUdpSession, IClientStats
{
    private const int QueuedFrames = 4;

    /// <summary>Audio packets waiting to be published (320 ms of 20 ms packets); the oldest goes first when full.</summary>
    private const int QueuedAudio = 16;

    /// <summary>10 ms packets (100 a second) are the shortest we take; with room for resends, more than this a second (a one-second bucket) is a flood, dropped.</summary>
    private const int MaxAudioPerSecond = 150;

    private readonly UdpHubListener _listener;
    private readonly Room _room;
    private readonly UdpOptions _options;
    private readonly ILogger _logger;
    private readonly UdpHello _hello;
    private readonly ServerGuards _guards;
    private readonly UdpFrameReceiver _receiver;
    private readonly PublishRateLimit _rateLimit;
    private readonly Channel<(MediaFrame Frame, bool AfterLoss)> _frames;
    private readonly UdpAudioReceiver _audioReceiver;
    private readonly Channel<(MediaFrame Packet, byte Channels)> _audio;
    private readonly PublishRateLimit _audioRate = new(new LimitOptions { MaxPublishFps = MaxAudioPerSecond });
    private long _audioPublished;
    private long _audioDropped;
    private (byte Channels, ushort Samples)? _audioShape;
    private readonly UdpSessionEnd _end = new();
    private readonly ReceiveCounters _received = new();
    private volatile bool _seatHandedOver;
    private long _framesDropped;
    private long _framesOverRateLimit;
    private bool _budgetLogged;

    // H.264 continuity. On the receive loop: the last completed frame id, and a loss not yet told to the queue.
    private uint? _lastCompletedId;
    private bool _lostSinceQueued;

    // Set by the queue's drop callback; the publish loop then waits for a keyframe.
    private long _framesAwaitingKeyframe;
    private long _keyframeRequestsSent;

    public UdpPublisherSession(UdpHubListener listener, PendingUdpSession pending, Room room, UdpOptions options, int maxFrameBytes, ServerGuards guards, ILogger logger)
    {
        _guards = guards;
        _rateLimit = new PublishRateLimit(guards.Options);
        _listener = listener;
        _room = room;
        _options = options;
        _logger = logger;
        _hello = pending.Hello;
        Id = pending.Id;
        Address = pending.Address;
        Seal = pending.Seal;
        Remote = UdpHubListener.Describe(pending.Address);
        bool recovery = !pending.Hello.NoLossRecovery;
        var budget = new ReassemblyBudget(FrameReassembler.SessionCapFor(maxFrameBytes), guards.Reassembly, UdpHubListener.KeyOf(Address));
        _receiver = new UdpFrameReceiver(Id, maxFrameBytes, recovery, d => _listener.SendTo(d, Address, Seal), budget);
        _audioReceiver = new UdpAudioReceiver(d => _listener.SendTo(d, Address, Seal), Id, recovery);
        _audio = Channel.CreateBounded<(MediaFrame Packet, byte Channels)>(
            new BoundedChannelOptions(QueuedAudio) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true },
            dropped =>
            {
                Interlocked.Increment(ref _audioDropped);
                dropped.Packet.Release();
            });
        _frames = Channel.CreateBounded<(MediaFrame Frame, bool AfterLoss)>(
            new BoundedChannelOptions(QueuedFrames) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true },
            dropped =>
            {
                Interlocked.Increment(ref _framesDropped);
                dropped.Frame.Release();
            });
    }

    public ulong Id { get; }

    public SocketAddress Address { get; }

    public DatagramSeal? Seal { get; }

    public ClientKind Kind => ClientKind.UdpPublisher;

    public string Remote { get; }

    public string? RoomName => _room.Name;

    /// <summary>Frames it sent us that we published, and their bytes.</summary>
    public ReceiveCounters Received => _received;

    /// <summary>Frames not published: pushed out of the queue by newer ones, or over the publish rate limit.</summary>
    public long FramesDropped => Interlocked.Read(ref _framesDropped);

    /// <summary>Of <see cref="FramesDropped"/>, the frames above --max-publish-fps / --max-publish-bitrate.</summary>
    public long FramesOverRateLimit => Interlocked.Read(ref _framesOverRateLimit);

    /// <summary>Bytes this session's reassembly holds now.</summary>
    public long ReassemblyBytes => _receiver.BytesHeld;

    public ReassemblyStats Reception => _receiver.Stats;

    /// <summary>H.264 frames not published because a frame before them was lost and no keyframe had come since.</summary>
    public long FramesAwaitingKeyframe => Interlocked.Read(ref _framesAwaitingKeyframe);

    /// <summary>KEYFRAME_REQUESTs sent to the publisher (the seat track's coalesced requests).</summary>
    public long KeyframeRequestsSent => Interlocked.Read(ref _keyframeRequestsSent);

    /// <summary>
    /// The seat track's coalescer forwards a keyframe request (§4.9): one KEYFRAME_REQUEST to the publisher, reason 0 (the
    /// callback does not carry one). Any thread; a lost datagram is made good by the next request, which the coalescer
    /// lets through after 1 s without a keyframe.
    /// </summary>
    public void RequestKeyframe()
    {
        if (_end.IsEnding || _seatHandedOver)
        {
            return;
        }

        Span<byte> datagram = stackalloc byte[UdpWire.KeyframeRequestSize];
        UdpWire.WriteKeyframeRequest(datagram, Id, 0);
        _listener.SendTo(datagram, Address, Seal);
        Interlocked.Increment(ref _keyframeRequestsSent);
    }

    public bool HoldsSeatOf(Room room) => ReferenceEquals(room, _room) && !_seatHandedOver;

    /// <summary>
    /// Under the listener's lock: a new session of the same publisher (same IP, new port) takes the room's seat; this one
    /// gives it up at once, ends without telling viewers "publisher left", and publishes nothing more.
    /// </summary>
    public void HandOverSeat()
    {
        _seatHandedOver = true;
        _room.ReleasePublisher(this);
        End(ErrorCode.Normal, "replaced by the same publisher's new session");
    }

    public void OnDatagram(DatagramType type, ReadOnlySpan<byte> datagram)
    {
        _end.Heard();
        switch (type)
        {
            case DatagramType.Fragment:
                OnFragment(datagram);
                break;
            case DatagramType.Audio:
                OnAudio(datagram);
                break;
            case DatagramType.Ping when UdpWire.TryReadPing(datagram, out PingMessage ping):
                _receiver.RttMicros = PingRoundTrip.Read(datagram);
                _audioReceiver.RttMicros = _receiver.RttMicros;
                Span<byte> pong = stackalloc byte[UdpWire.PongSize];
                UdpWire.WritePong(pong, Id, new PongMessage(ping.Id, ping.SentMicros, Clock.NowMicros()));
                _listener.SendTo(pong, Address, Seal);
                break;
            case DatagramType.Signal when UdpWire.TryReadSignal(datagram, out SignalMessage signal):
                if (!_end.IsEnding && !_seatHandedOver)
                {
                    _room.SetSignal(signal.Live, signal.Text);
                }

                break;
            case DatagramType.Report:
                break; // a publisher's keep-alive carries nothing the hub needs
            case DatagramType.Bye when UdpWire.TryReadBye(datagram, out CloseMessage bye):
                _end.PeerLeft("publisher", bye.Text);
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
        }
    }

    public void End(ErrorCode code, string reason) => _end.End(code, reason);

    public async Task RunAsync(CancellationToken serverToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(serverToken, _end.Token);
        string recovery = _hello.NoLossRecovery ? " without loss recovery" : "";
        UdpLog.Joined(_logger, Remote, _room.Name, "publisher", _hello.Agent, recovery);
        Task ticks = TickLoopAsync(stop.Token);
        Task sound = AudioLoopAsync(stop.Token);
        string reason = "closed";
        try
        {
            bool needKeyframe = true; // an H.264 stream is published from a keyframe on
            await foreach ((MediaFrame frame, bool afterLoss) in _frames.Reader.ReadAllAsync(stop.Token))
            {
                try
                {
                    if (_seatHandedOver)
                    {
                        continue;
                    }

                    needKeyframe |= afterLoss;
                    if (frame.Header.Codec == CodecId.H264 && needKeyframe)
                    {
                        if (!frame.Header.IsKeyframe)
                        {
                            // Its reference is gone: published, it would break every decoder downstream until a keyframe.
                            Interlocked.Increment(ref _framesAwaitingKeyframe);
                            _room.RequestSeatKeyframe(this, reason: 2);
                            continue;
                        }

                        needKeyframe = false;
                    }

                    await _room.PublishAsync(frame, stop.Token);
                    _received.OnReceived(frame.DataLength);
                }
                finally
                {
                    frame.Release();
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            reason = _end.Reason(serverToken);
        }
        finally
        {
            try
            {
                await stop.CancelAsync(); // also when publishing failed: the tick and audio loops must end
                await ticks;
                await sound.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // whatever it did, the cleanup below runs
                _frames.Writer.TryComplete();
                while (_frames.Reader.TryRead(out (MediaFrame Frame, bool) left))
                {
                    left.Frame.Release();
                }

                _audio.Writer.TryComplete();
                while (_audio.Reader.TryRead(out (MediaFrame Packet, byte Channels) leftPacket))
                {
                    leftPacket.Packet.Release();
                }

                // Told before the seat is free, so it cannot land after a new publisher's first frame.
                if (!serverToken.IsCancellationRequested && !_seatHandedOver)
                {
                    _room.SetSignal(false, Room.PublisherLeftReason);
                }

                _room.ReleasePublisher(this);
                if (_end.Bye(serverToken, reason) is { } bye)
                {
                    _receiver.ReportLast(); // the publisher's totals end equal to the hub's
                    byte[] datagram = new byte[UdpWire.MaxDatagram];
                    _listener.SendTo(datagram.AsSpan(0, UdpWire.WriteBye(datagram, Id, bye)), Address, Seal);
                }
            }
            finally
            {
                // Whatever failed above, the frames in reassembly go back to the hub's budget.
                _receiver.Dispose();
            }
        }

        ReassemblyStats stats = _receiver.Stats;
        UdpLog.Left(_logger, Remote, _room.Name, reason, FormattableString.Invariant(
            $"published {_received.FramesReceived} frames; {stats.FramesLost} lost{H264Summary()}, {stats.Recovered} fragments rebuilt from parity, {stats.RetransmittedArrivals} resent{AudioSummary()}"));
    }

    private string H264Summary() => FramesAwaitingKeyframe == 0 && KeyframeRequestsSent == 0 ? "" : FormattableString.Invariant(
        $" ({FramesAwaitingKeyframe} H.264 frames held back until a keyframe, {KeyframeRequestsSent} keyframe requests sent)");

    /// <summary>Audio packets published into the room.</summary>
    public long AudioPacketsPublished => Interlocked.Read(ref _audioPublished);

    public UdpAudioStats AudioReception => _audioReceiver.Stats;

    private string AudioSummary()
    {
        UdpAudioStats a = _audioReceiver.Stats;
        return a.Received == 0 ? "" : FormattableString.Invariant(
            $"; {AudioPacketsPublished} audio packets ({a.Recovered} of {a.Missed} missed came back after a NACK, {Interlocked.Read(ref _audioDropped)} dropped)");
    }

    /// <summary>On the listener's receive loop: a flood is cut first, then duplicates; a new packet is copied into the queue.</summary>
    private void OnAudio(ReadOnlySpan<byte> datagram)
    {
        if (!_audioRate.TryAdmit(datagram.Length))
        {
            _guards.Refusals.Count(Refusal.PublishRateLimit);
            Interlocked.Increment(ref _audioDropped);
            return;
        }

        if (_end.IsEnding || _seatHandedOver)
        {
            return;
        }

        AudioArrival arrival = _audioReceiver.Accept(datagram, Clock.NowMicros(), out UdpAudioHeader header, out ReadOnlySpan<byte> payload);
        if (arrival != AudioArrival.New)
        {
            if (arrival == AudioArrival.Malformed)
            {
                _listener.Drops.OnMalformed();
            }

            return;
        }

        // The session's sound keeps the shape of its first packet: a change of channels would republish the seat's track,
        // and a publisher flipping them could flood everyone with track events.
        _audioShape ??= (header.Channels, header.Samples);
        if (_audioShape != (header.Channels, header.Samples))
        {
            Interlocked.Increment(ref _audioDropped);
            return;
        }

        MediaFrame packet = MediaFrame.Rent(payload.Length);
        payload.CopyTo(packet.WritableData);
        packet.Complete(new FrameInfo(TrackKind.Audio, header.Codec, FrameFlags.Keyframe, header.Samples, 0, header.Sequence, header.CaptureMicros), payload.Length);
        if (!_audio.Writer.TryWrite((packet, header.Channels)))
        {
            packet.Release();
        }
    }

    private async Task AudioLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach ((MediaFrame packet, byte channels) in _audio.Reader.ReadAllAsync(cancellationToken))
            {
                try
                {
                    if (!_seatHandedOver)
                    {
                        await _room.PublishSeatAudioAsync(packet, channels, cancellationToken);
                        Interlocked.Increment(ref _audioPublished);
                    }
                }
                finally
                {
                    packet.Release();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void OnFragment(ReadOnlySpan<byte> datagram)
    {
        if (_receiver.Accept(datagram, out CompletedFrame? completed) == ReassemblyResult.OverBudget)
        {
            _guards.Refusals.Count(Refusal.ReassemblyBudget);
            if (!_budgetLogged)
            {
                _budgetLogged = true; // once per session: a flood must not become a flood of log lines
                UdpLog.OverBudget(_logger, Remote, _guards.Reassembly.InUse >> 20, _guards.Reassembly.PerAddress >> 20, _guards.Reassembly.Total >> 20);
            }
        }

        if (completed is null)
        {
            return;
        }

        using (completed)
        {
            VideoFrameHeader header = completed.Header;
            ReadOnlySpan<byte> picture = completed.Data.Span;

            // Frame ids are +1 per frame sent: a gap is a frame lost for good (inter-coded video needs to know).
            _lostSinceQueued |= _lastCompletedId is { } last && completed.FrameId != unchecked(last + 1);
            _lastCompletedId = completed.FrameId;

            // Before any work on the picture: a flooding publisher costs as little as possible.
            if (!_rateLimit.TryAdmit(picture.Length))
            {
                _guards.Refusals.Count(Refusal.PublishRateLimit);
                Interlocked.Increment(ref _framesOverRateLimit);
                Interlocked.Increment(ref _framesDropped);
                _lostSinceQueued = true;
                _receiver.Done(completed.FrameId);
                return;
            }

            FrameFlags flags = FrameFlags.Keyframe;
            if (header.Codec == CodecId.H264)
            {
                // The same check as every other publisher's H.264 (FrameCheck): NAL structure, SPS size; FRAGMENT carries no
                // keyframe flag, so the access unit says it: an IDR (Inspect wants its SPS and PPS).
                H264AccessUnitInfo info;
                try
                {
                    info = AnnexB.Inspect(picture);
                }
                catch (InvalidDataException ex)
                {
                    Reject($"Corrupt H.264 in frame {header.Sequence}: {ex.Message}");
                    return;
                }

                if (info.Width > 0 && (info.Width != header.Width || info.Height != header.Height))
                {
                    Reject($"Frame {header.Sequence} says {header.Width}x{header.Height} but its SPS is {info.Width}x{info.Height}.");
                    return;
                }

                flags = info.IsIdr ? FrameFlags.Keyframe : FrameFlags.None;
            }

            if (header.Codec == CodecId.Jpeg)
            {
                if (!JpegStructure.TryValidate(picture, out int width, out int height, out string? error))
                {
                    Reject($"Corrupt JPEG in frame {header.Sequence}: {error}");
                    return;
                }

                if (width != header.Width || height != header.Height)
                {
                    Reject($"Frame {header.Sequence} says {header.Width}x{header.Height} but its JPEG is {width}x{height}.");
                    return;
                }
            }

            MediaFrame frame = MediaFrame.Rent(picture.Length);
            picture.CopyTo(frame.WritableData);
            frame.Complete(new FrameInfo(TrackKind.Video, header.Codec, flags, header.Width, header.Height, header.Sequence, header.CaptureMicros), picture.Length);
            // A full queue drops its oldest frame to take this one: then this frame comes after a loss (the mark travels
            // with the frame written, never with one the reader already holds). Counted just before, so a frame the
            // reader took meanwhile only makes the mark cautious.
            bool dropsOne = _frames.Reader.Count >= QueuedFrames;
            if (_frames.Writer.TryWrite((frame, _lostSinceQueued || dropsOne)))
            {
                _lostSinceQueued = false;
            }
            else
            {
                frame.Release();
            }

            _receiver.Done(completed.FrameId);
        }
    }

    private void Reject(string reason)
    {
        UdpLog.BadFrame(_logger, Remote, reason);
        End(ErrorCode.BadFrame, reason);
    }

    private async Task TickLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(UdpFrameReceiver.TickInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                _receiver.Tick();
                _audioReceiver.Tick(Clock.NowMicros());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
