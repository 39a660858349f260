using SocketCam.Audio;
using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Codecs;
using SocketCam.Codecs.H264;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Seed;
using SocketCam.Transport;
using SocketCam.Udp;

namespace SocketCam.Client;

/// <summary>
/// Watches a room: receives frames, decodes them (or only checks them) and measures fps, latency and skips.
/// Decoding runs on the receive loop, so a viewer slower than the stream pushes back through TCP and the hub
/// skips frames for it instead of queueing them.
/// </summary>
public sealed class ViewerClient : IDisposable
{
    private readonly StreamEndpoint _endpoint;
    private readonly ViewerOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<CodecId, IFrameDecoder> _decoders = [];
    private byte[] _assembly = [];
    private VideoFrame? _picture;
    private long _lastSequence = -1;

    public ViewerClient(StreamEndpoint endpoint, ViewerOptions options, ILoggerFactory? loggerFactory = null)
    {
        _endpoint = endpoint;
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SocketCam.View");
    }

    public ViewerStats Stats { get; } = new();

    /// <summary>Called on the receive loop after each frame is decoded; the frame is reused afterwards (copy to keep).</summary>
    internal Action<VideoFrame>? FrameDecoded { get; set; }

    /// <summary>Called for every received frame before decoding (the picture data is valid only during the call).</summary>
    internal Action<VideoFrameHeader, ReadOnlySequence<byte>>? FrameReceived { get; set; }

    /// <summary>
    /// Awaited on the receive loop for every received frame, before <see cref="FrameReceived"/> and decoding (a recorder
    /// that must see every frame). The picture data is valid until the returned task completes; while it is pending the
    /// viewer reads nothing more, so TCP pushes back and the hub skips frames for this viewer instead.
    /// </summary>
    internal Func<VideoFrameHeader, ReadOnlySequence<byte>, CancellationToken, ValueTask>? FrameReceivedAsync { get; set; }

    /// <summary>Called on the receive loop when the signal state changes: (live, reason); the reason is null when live.</summary>
    internal Action<bool, string?>? SignalChanged { get; set; }

    /// <summary>
    /// The hub's clock minus this process's clock (µs) for the frame being handled: read it in <see cref="FrameDecoded"/> to
    /// move a capture time onto this process's clock.
    /// </summary>
    internal long ClockOffsetMicros { get; private set; }

    /// <summary>The longest a picture is held back to be shown with its sound.</summary>
    public const long MaxHoldMicros = 200_000;

    /// <summary>
    /// The sound's capture-to-output delay now (µs; 0: none), when the watched participant's sound plays: pictures are then
    /// shown at their capture time plus it (<see cref="PresentAtMicros"/>), with their sound. Null: shown as decoded.
    /// </summary>
    internal Func<long>? SoundDelayMicros { get; init; }

    /// <summary>When the picture just decoded is to be shown (this process's clock): read it in <see cref="FrameDecoded"/>.</summary>
    internal long PresentAtMicros { get; private set; }

    /// <summary>Capture to shown (held back for lip sync included), in ms.</summary>
    internal LatencyRecorder PresentedLatency { get; } = new();

    /// <summary>Where the flashes of what is shown are timed (with the beeps of what plays: lip sync); null: not measured.</summary>
    internal LipSyncMeter? LipSync { get; init; }

    /// <summary>The most recently decoded picture, or null. Only read it after <see cref="RunAsync"/> returns.</summary>
    internal VideoFrame? LastPicture => _picture;

    /// <summary>Where the watched participant's audio goes (v2 tracks, or UDP's AUDIO datagrams); null: video only.</summary>
    internal AudioMixer? Audio { get; init; }

    /// <summary>
    /// Awaited on the receive loop for every packet of the heard audio track (a recorder that must keep them all), in the
    /// order packets and video frames arrived; the data is valid until the returned task completes. Set, it makes the
    /// viewer hear audio over protocol v2 (tcp://, tls://, unix://); over udp:// only <see cref="Audio"/> is fed (AUDIO datagrams).
    /// </summary>
    internal Func<FrameInfo, ReadOnlySequence<byte>, CancellationToken, ValueTask>? AudioReceivedAsync { get; set; }

    /// <summary>
    /// The heard audio track changed: its channels (1 or 2), or 0 when it went away. Called before any of its packets,
    /// and before the video it goes with is subscribed when both are picked together (a recorder can declare the audio
    /// track before the first video frame starts its file).
    /// </summary>
    internal Action<int>? AudioTrackChanged { get; set; }

    /// <summary>Whether this viewer subscribes to audio (to play it or to record it).</summary>
    private bool WantsAudio => Audio is not null || AudioReceivedAsync is not null;

    /// <summary>Watches until cancelled (or, with Reconnect off, until the hub goes away).</summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Reconnector.RunAsync(_endpoint, _options, _logger, SessionRunner(), Stats.OnRetry, cancellationToken);

    private Func<CancellationToken, Task> SessionRunner() =>
        (_options.Participant is not null || _options.Track is not null) && (SeedClient.IsSeed(_endpoint) || UdpClientSession.IsUdp(_endpoint))
            ? throw new UserFacingException("--participant and --track need protocol v2, which runs over tcp:// or unix://.")
        : Audio is not null && SeedClient.IsSeed(_endpoint)
            ? throw new UserFacingException("--audio-out needs a SocketCam hub (tcp://, tls://, unix:// or udp://): the seed format carries no sound.")
        : SeedClient.IsSeed(_endpoint) ? RunSeedSessionAsync
        : UdpClientSession.IsUdp(_endpoint) ? RunUdpSessionAsync
        : _options.Participant is not null || _options.Track is not null || WantsAudio ? RunRoomSessionAsync
        : RunSessionAsync;

    /// <summary>
    /// `view --participant NAME --track LABEL` (protocol v2, docs/PROTOCOL.md Part II): joins hidden, picks the first video
    /// track that matches from the room's snapshot and events (waiting, with a no-signal saying so, until one appears),
    /// subscribes to just that track, and feeds its frames down the same path as v1 frames. When the track goes away it
    /// picks again.
    /// </summary>
    private async Task RunRoomSessionAsync(CancellationToken cancellationToken)
    {
        await using RoomClient client = await RoomClient.ConnectAsync(_endpoint, _options, "", hidden: true, cancellationToken);
        ClientLog.Connected(_logger, _endpoint.ToString(), _options.Room, client.Welcome.SessionId);
        Stats.OnConnected();
        _lastSequence = -1;
        int maxFrame = (int)Math.Min(client.Welcome.MaxFrameBytes, (uint)_options.MaxFrameBytes);
        var changed = new Rooms.AsyncSignal();
        (uint Participant, ushort Track)? watching = null;
        client.EventReceived = _ => changed.Set();
        (uint Participant, ushort Track, JitterBuffer? Buffer)? hearing = null;
        client.FrameReceived = f =>
        {
            if (f.Info.Kind == TrackKind.Audio)
            {
                if (hearing is { } h && h.Participant == f.ParticipantId && h.Track == f.TrackId)
                {
                    Interlocked.Increment(ref _audioPackets);
                    if (h.Buffer is { } buffer)
                    {
                        f.PushTo(buffer, client.ClockOffsetMicros);
                    }

                    // A recorder sees the packet on the hub's clock, like the video frames.
                    if (AudioReceivedAsync is { } record)
                    {
                        return record(f.Info, f.Data, cancellationToken);
                    }
                }

                return ValueTask.CompletedTask;
            }

            if (watching is not { } w || w.Participant != f.ParticipantId || w.Track != f.TrackId || f.Info.Kind != TrackKind.Video)
            {
                return ValueTask.CompletedTask;
            }

            ValueTask delivered = DeliverHubFrameAsync(f.Info, f.Data, client.ClockOffsetMicros, cancellationToken);
            return KeyframeWanted || !delivered.IsCompletedSuccessfully ? AskForKeyframeAfterAsync(delivered, client, w.Participant, w.Track, cancellationToken) : delivered;
        };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        // The audio heard with the video (to play, to record): the owner's first Opus track; dropped when it ends. The
        // SUBSCRIBE goes out at once and the returned task completes with its result, so the video's can follow it
        // without waiting a round trip (the tracks of a recording then start together).
        Task HearAsync(ParticipantRecord[] people, TrackRecord[] tracks, uint? owner)
        {
            if (!WantsAudio)
            {
                return Task.CompletedTask;
            }

            if (hearing is { } heard && !tracks.Any(t => t.ParticipantId == heard.Participant && t.Description.TrackId == heard.Track))
            {
                Audio?.Remove(heard.Participant, heard.Track);
                hearing = null;
                AudioTrackChanged?.Invoke(0);
            }

            if (hearing is null && TrackChoice.PickAudio(people, tracks, owner, _options.Participant) is { } sound)
            {
                // Heard from the moment it is asked for (like the watched video): no packet is missed before the result.
                int channels = Math.Clamp((int)sound.Description.A, 1, 2);
                AudioTrackChanged?.Invoke(channels);
                JitterBuffer? buffer = Audio?.Track(sound.ParticipantId, sound.Description.TrackId, channels);
                hearing = (sound.ParticipantId, sound.Description.TrackId, buffer);
                return ConfirmHearingAsync(sound.ParticipantId, sound.Description.TrackId);
            }

            return Task.CompletedTask;
        }

        async Task ConfirmHearingAsync(uint participantId, ushort trackId)
        {
            ResultMessage result = await client.SubscribeAsync(participantId, trackId, stop.Token);
            if (result.Code != ErrorCode.Normal && hearing is { } h && h.Participant == participantId && h.Track == trackId)
            {
                // It went away meanwhile: pick again with the next event.
                Audio?.Remove(participantId, trackId);
                hearing = null;
                AudioTrackChanged?.Invoke(0);
            }
        }

        Task receive = client.ReceiveAsync(maxFrame, stop.Token);
        Task pings = PingRoomAsync(client, stop.Token);
        try
        {
            await client.SnapshotReceived.WaitAsync(stop.Token);
            while (!receive.IsCompleted)
            {
                (ParticipantRecord[] people, TrackRecord[] tracks) = client.Room;
                if (watching is { } current && !tracks.Any(t => t.ParticipantId == current.Participant && t.Description.TrackId == current.Track))
                {
                    watching = null;
                    OnSignal(false, "track ended");
                }

                if (watching is null && TrackChoice.Pick(people, tracks, _options.Participant, _options.Track) is { } pick)
                {
                    // Its owner's audio first, so a recording knows of the audio track before the first video frame; both
                    // requests go out back to back.
                    Task heard = HearAsync(people, tracks, pick.ParticipantId);
                    watching = (pick.ParticipantId, pick.Description.TrackId);
                    _lastSequence = -1;
                    ResultMessage result = await client.SubscribeAsync(pick.ParticipantId, pick.Description.TrackId, stop.Token);
                    await heard;
                    if (result.Code != ErrorCode.Normal)
                    {
                        watching = null; // it left meanwhile: pick again with the next event
                    }
                    else if (!pick.Live)
                    {
                        OnSignal(false, pick.Text);
                    }
                }
                else if (watching is null)
                {
                    OnSignal(false, TrackChoice.Waiting(_options.Participant, _options.Track));
                }
                else if (tracks.FirstOrDefault(t => t.ParticipantId == watching.Value.Participant && t.Description.TrackId == watching.Value.Track) is { Live: false } off)
                {
                    OnSignal(false, off.Text);
                }

                await HearAsync(people, tracks, watching?.Participant);

                Stats.RttMilliseconds = client.LastRttMilliseconds;
                Task woke = changed.WaitAsync(stop.Token).AsTask();
                await Task.WhenAny(woke, receive);
            }

            await receive;
        }
        finally
        {
            if (hearing is not null)
            {
                AudioTrackChanged?.Invoke(0);
            }

            await stop.CancelAsync();
            await Task.WhenAll(receive, pings).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (cancellationToken.IsCancellationRequested)
            {
                await client.SayGoodbyeAsync(CancellationToken.None);
            }
        }
    }

    /// <summary>Audio packets received.</summary>
    internal long AudioPackets => Interlocked.Read(ref _audioPackets);

    /// <summary>The H.264 decoder waits for a keyframe: the session asks the hub for one (which coalesces and rate-limits).</summary>
    private bool KeyframeWanted { get; set; }

    /// <summary>The H.264 decoder of the watched track (null before the first H.264 frame): its error counts, for tests and stats.</summary>
    internal H264Decoder? H264Decoder => _decoders.GetValueOrDefault(CodecId.H264) as H264Decoder;

    private async ValueTask AskForKeyframeAfterAsync(ValueTask delivered, RoomClient client, uint participantId, ushort trackId, CancellationToken cancellationToken)
    {
        await delivered;
        if (KeyframeWanted)
        {
            KeyframeWanted = false;
            await client.SendKeyframeRequestAsync(participantId, trackId, cancellationToken);
        }
    }

    private long _audioPackets;

    private async Task PingRoomAsync(RoomClient client, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.PingInterval);
        try
        {
            do
            {
                await client.PingAsync(cancellationToken);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (Exception ex) when (ex is OperationCanceledException || ex.IsDisconnect())
        {
        }
    }

    /// <summary>
    /// Watches over UDP (docs/PROTOCOL.md §2.0): fragments are reassembled (parity rebuilds, NACKs ask for the rest) and
    /// only whole frames go down the same path as TCP frames; a frame that cannot be completed in time is never decoded.
    /// </summary>
    private async Task RunUdpSessionAsync(CancellationToken cancellationToken)
    {
        using UdpClientSession session = await UdpClientSession.ConnectAsync(_endpoint, PeerRole.Viewer, _options, _options.UdpRecovery, cancellationToken, audio: Audio is not null, h264: _options.UdpH264);
        UdpLog.Connected(_logger, session.SessionId.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), session.Server, _options.Room, _options.UdpRecovery ? "" : " (loss recovery off)");
        Stats.OnConnected();
        _lastSequence = -1;
        _udpLastFrameId = null;
        int maxFrame = (int)Math.Min(session.Welcome.MaxFrameBytes, (uint)_options.MaxFrameBytes);
        using var receiver = new UdpFrameReceiver(session.SessionId, maxFrame, _options.UdpRecovery, session.SendControl);
        UdpAudioReceiver? sound = Audio is null ? null : new UdpAudioReceiver(session.SendControl, session.SessionId, _options.UdpRecovery);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task pings = session.PingLoopAsync(stop.Token);
        Task ticks = UdpTicksAsync(session, receiver, sound, stop.Token);
        try
        {
            await session.ReceiveAsync((type, datagram) => OnUdpDatagramAsync(session, receiver, sound, type, datagram, cancellationToken), stop.Token);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(pings, ticks).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            Stats.OnLink(UdpLinkStats.From(receiver.Stats, session.DroppedDatagrams));
            Stats.EndLinkSession();
            if (!session.ServerSaidBye)
            {
                receiver.ReportLast();
                session.SendBye(ErrorCode.Normal, cancellationToken.IsCancellationRequested ? "bye" : "viewer stopped");
            }
        }
    }

    private ValueTask OnUdpDatagramAsync(UdpClientSession session, UdpFrameReceiver receiver, UdpAudioReceiver? sound, DatagramType type, ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken)
    {
        switch (type)
        {
            case DatagramType.Fragment:
                receiver.Accept(datagram.Span, out CompletedFrame? frame);
                return frame is null ? ValueTask.CompletedTask : DeliverUdpFrameAsync(session, receiver, frame, cancellationToken);
            case DatagramType.Audio when sound is not null && Audio is { } mixer:
                // The hub's seat sound has no participant id over UDP: one track, (0, 2), in the mixer.
                if (sound.Accept(datagram.Span, Clock.NowMicros(), out UdpAudioHeader header, out ReadOnlySpan<byte> payload) == AudioArrival.New)
                {
                    Interlocked.Increment(ref _audioPackets);
                    // (A resend of a stream's first packet is only a late packet: it must not start the buffer afresh again.)
                    bool restart = header.Discontinuity && !header.Resent;
                    var info = new FrameInfo(TrackKind.Audio, header.Codec, FrameFlags.Keyframe | (restart ? FrameFlags.Discontinuity : 0), header.Samples, 0, header.Sequence, header.CaptureMicros);
                    ReceivedAudio.PushTo(mixer.Track(0, Rooms.Room.SeatAudioTrackId, header.Channels), info, payload, session.ClockOffsetMicros);
                }

                return ValueTask.CompletedTask;
            case DatagramType.Signal when UdpWire.TryReadSignal(datagram.Span, out SignalMessage signal):
                // The hub repeats a no-signal every second; OnSignal lets only changes through.
                OnSignal(signal.Live, signal.Text);
                return ValueTask.CompletedTask;
            default:
                return ValueTask.CompletedTask;
        }
    }

    private async ValueTask DeliverUdpFrameAsync(UdpClientSession session, UdpFrameReceiver receiver, CompletedFrame frame, CancellationToken cancellationToken)
    {
        using (frame)
        {
            // The hub's frame ids are +1 per frame sent: a gap is a frame lost for good (the timer may have asked for a
            // keyframe already). Every lost frame lies in such a gap, so it alone decides.
            bool gap = _udpLastFrameId is { } last && frame.FrameId != unchecked(last + 1);
            _udpLastFrameId = frame.FrameId;
            if (frame.Header.Codec == CodecId.H264)
            {
                Volatile.Write(ref _udpH264, 1);
                if (gap && H264Decoder is { } decoder)
                {
                    // A lost frame may be a reference of this one: wait for a keyframe rather than decode a broken picture
                    // (libavcodec would conceal it silently). A keyframe itself decodes straight after the reset.
                    decoder.Reset();
                }
            }

            await DeliverHubFrameAsync(frame.Header, new ReadOnlySequence<byte>(frame.Data), session.ClockOffsetMicros, cancellationToken);
        }

        // Flow control: the hub sends the next frame once we are done with this one (or 200 ms pass).
        receiver.Done(frame.FrameId);
        if (KeyframeWanted)
        {
            KeyframeWanted = false;
            TrySendKeyframeRequest(session, UdpWire.KeyframeReasonDecoderWaits);
        }
    }

    /// <summary>The last frame id delivered in this UDP session (a gap to the next one is a frame lost for good).</summary>
    private uint? _udpLastFrameId;

    /// <summary>1 once this UDP session carried H.264 (only then is a lost frame worth a keyframe request).</summary>
    private int _udpH264;

    private long _lastKeyframeRequestMicros = long.MinValue / 2;
    private long _udpKeyframeRequests;

    /// <summary>KEYFRAME_REQUESTs this viewer sent over UDP (at most one per 200 ms).</summary>
    internal long UdpKeyframeRequests => Interlocked.Read(ref _udpKeyframeRequests);

    /// <summary>The client's own limit: at most one KEYFRAME_REQUEST per 200 ms (the hub's coalescer limits the rest).</summary>
    private void TrySendKeyframeRequest(UdpClientSession session, byte reason)
    {
        long now = Clock.NowMicros();
        long last = Interlocked.Read(ref _lastKeyframeRequestMicros);
        if (now - last < 200_000 || Interlocked.CompareExchange(ref _lastKeyframeRequestMicros, now, last) != last)
        {
            return;
        }

        session.SendKeyframeRequest(reason);
        Interlocked.Increment(ref _udpKeyframeRequests);
    }

    /// <summary>The receiver's timer (deadlines, NACKs, REPORTs) and the stats' view of the link.</summary>
    private async Task UdpTicksAsync(UdpClientSession session, UdpFrameReceiver receiver, UdpAudioReceiver? sound, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(UdpFrameReceiver.TickInterval);
        int turn = 0;
        long framesLost = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                receiver.RttMicros = session.LastRttMicros;
                receiver.Tick();
                if (receiver.FramesLost is var lost && lost != framesLost)
                {
                    // A frame given up for good (deadline, in-flight cap): H.264 after it is broken until a keyframe, so
                    // ask now rather than when the next frame arrives.
                    framesLost = lost;
                    if (Volatile.Read(ref _udpH264) == 1)
                    {
                        TrySendKeyframeRequest(session, UdpWire.KeyframeReasonFrameLost);
                    }
                }

                if (sound is not null)
                {
                    sound.RttMicros = session.LastRttMicros;
                    sound.Tick(Clock.NowMicros());
                }

                if (++turn % 20 == 0)
                {
                    Stats.RttMilliseconds = session.LastRttMicros / 1000.0;
                    Stats.OnLink(UdpLinkStats.From(receiver.Stats, session.DroppedDatagrams));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Watches a seed tutorial server (`seed+tcp://`): its pickled frames are read through the allow-list and go down the
    /// same path as raw frames from a hub (stats, snapshot, recording). The format has no sequence numbers, capture times
    /// or signal, so skipped frames and latency are not measured; TCP carries every frame the server sends.
    /// </summary>
    private async Task RunSeedSessionAsync(CancellationToken cancellationToken)
    {
        using Socket socket = await SeedClient.ConnectAsync(_endpoint, _options.ConnectTimeout, cancellationToken);
        using var reader = new SeedStreamReader(socket, _options.MaxFrameBytes, _options.IdleTimeout);
        SeedLog.Connected(_logger, _endpoint.ToString());
        Stats.OnConnected();
        long sequence = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            SeedPicture picture = reader.Decode();
            var header = new VideoFrameHeader(CodecId.RawBgr24, picture.Width, picture.Height, sequence++, Clock.NowMicros());
            await DeliverAsync(header, new ReadOnlySequence<byte>(picture.Bgr), skipped: 0, clockOffsetMicros: null, cancellationToken);
        }
    }

    private async Task RunSessionAsync(CancellationToken cancellationToken)
    {
        await using ClientSession session = await ClientSession.ConnectAsync(_endpoint, PeerRole.Viewer, _options, cancellationToken);
        ClientLog.Connected(_logger, _endpoint.ToString(), _options.Room, session.Welcome.SessionId);
        Stats.OnConnected();
        _lastSequence = -1;
        using var pingStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task pings = session.PingLoopAsync(_options.PingInterval, pingStop.Token);
        Task roomCheck = CheckRoomHasPublisherAsync(pingStop.Token);
        try
        {
            int maxFrame = (int)Math.Min(session.Welcome.MaxFrameBytes, (uint)_options.MaxFrameBytes);
            await session.ReceiveAsync(
                maxFrame,
                _options.IdleTimeout,
                payload => OnFrameAsync(session, payload, cancellationToken),
                signal => OnSignal(signal.Live, signal.Text),
                () => Stats.RttMilliseconds = session.LastRttMilliseconds,
                cancellationToken);
        }
        finally
        {
            await pingStop.CancelAsync();
            await Task.WhenAll(pings, roomCheck).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (cancellationToken.IsCancellationRequested)
            {
                await session.CloseAsync();
            }
        }
    }

    /// <summary>How long a v1 session waits for a first frame before asking the hub whether the room has a publisher at all.</summary>
    internal static readonly TimeSpan NoPublisherCheckDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A v1 viewer of a room nobody publishes to hears nothing at all (a room is made by whoever joins it): after a moment
    /// without frames or signal news, ask the hub for its rooms (LIST_ROOMS) and, if this one has no publisher, say so
    /// once, naming the rooms that do (a mistyped --room is the usual cause). The viewer keeps waiting either way.
    /// </summary>
    private async Task CheckRoomHasPublisherAsync(CancellationToken cancellationToken)
    {
        try
        {
            // LIST_ROOMS needs the admin grant: a signed room token usually lacks it, and a refusal would count against
            // this address as a failed attempt. The shared secret (or none, on an open hub) has it.
            if (_options.Token is { } token && Auth.RoomTokens.LooksLikeOne(token))
            {
                return;
            }

            await Task.Delay(NoPublisherCheckDelay, cancellationToken);
            if (Stats.Frames > 0 || !Stats.SignalLive || Stats.NoPublisher is not null)
            {
                return;
            }

            (List<RoomListing> rooms, bool truncated) = await RoomLister.ListAsync(_endpoint, _options, cancellationToken);
            if (Stats.Frames > 0 || rooms.Any(r => r.Name == _options.Room && r.Tracks.Any(t => t.Description.Kind == TrackKind.Video)))
            {
                return;
            }

            string others = NoPublisherRooms(rooms.Where(r => r.Name != _options.Room && r.Tracks.Any(t => t.Description.Kind == TrackKind.Video)).Select(r => r.Name).ToList(), truncated);
            Stats.NoPublisher = $"room '{_options.Room}' has no publisher yet ({others}); waiting for it to start";
            ClientLog.NoPublisher(_logger, _options.Room, others);
        }
        catch (Exception ex) when (ex is OperationCanceledException || ex.IsDisconnect() || ex is ProtocolException or RemoteErrorException or TimeoutException or UserFacingException)
        {
            // Only a hint: a hub that cannot list (v1 only, no token for it) just leaves "waiting for frames".
        }
    }

    /// <summary>"rooms with a publisher: 'main', 'lab'" (at most five named), or that there are none.</summary>
    internal static string NoPublisherRooms(IReadOnlyList<string> names, bool truncated) => names.Count switch
    {
        0 => truncated ? "the hub's room list is too long to check" : "no room on this hub has one",
        <= 5 => "rooms with a publisher: " + string.Join(", ", names.Select(n => $"'{n}'")) + (truncated ? ", ..." : ""),
        _ => "rooms with a publisher: " + string.Join(", ", names.Take(5).Select(n => $"'{n}'")) + $" and {names.Count - 5} more",
    };

    private void OnSignal(bool live, string reason)
    {
        if (!Stats.OnSignal(live, reason))
        {
            return;
        }

        if (live)
        {
            ClientLog.SignalBack(_logger);
        }
        else
        {
            ClientLog.NoSignal(_logger, reason);
        }

        SignalChanged?.Invoke(live, Stats.SignalReason);
    }

    private ValueTask OnFrameAsync(ClientSession session, ReadOnlySequence<byte> payload, CancellationToken cancellationToken)
    {
        VideoFrameHeader header = MessageParser.ParseVideoFrame(payload, out ReadOnlySequence<byte> data);
        return DeliverHubFrameAsync(header, data, session.ClockOffsetMicros, cancellationToken);
    }

    /// <summary>A frame from a hub over any transport: back to live if needed, skips from the sequence gap, then delivery.</summary>
    private ValueTask DeliverHubFrameAsync(VideoFrameHeader header, ReadOnlySequence<byte> data, long clockOffsetMicros, CancellationToken cancellationToken)
    {
        if (!Stats.SignalLive)
        {
            // A frame means the source is back (the hub sends SIGNAL live first, but the spec does not require it).
            OnSignal(true, "");
        }

        long skipped = _lastSequence >= 0 && header.Sequence > _lastSequence + 1 ? header.Sequence - _lastSequence - 1 : 0;
        _lastSequence = header.Sequence;
        return DeliverAsync(header, data, skipped, clockOffsetMicros, cancellationToken);
    }

    /// <summary>Recording hook, then decode and stats; <paramref name="clockOffsetMicros"/> is null when latency is unknown.</summary>
    private ValueTask DeliverAsync(VideoFrameHeader header, ReadOnlySequence<byte> data, long skipped, long? clockOffsetMicros, CancellationToken cancellationToken)
    {
        if (FrameReceivedAsync is { } hook)
        {
            ValueTask received = hook(header, data, cancellationToken);
            if (!received.IsCompletedSuccessfully)
            {
                return OnFrameAfterAsync(received, header, data, skipped, clockOffsetMicros);
            }

            received.GetAwaiter().GetResult();
        }

        OnFrame(header, data, skipped, clockOffsetMicros);
        return ValueTask.CompletedTask;
    }

    private async ValueTask OnFrameAfterAsync(ValueTask received, VideoFrameHeader header, ReadOnlySequence<byte> data, long skipped, long? clockOffsetMicros)
    {
        await received;
        OnFrame(header, data, skipped, clockOffsetMicros);
    }

    private void OnFrame(in VideoFrameHeader header, ReadOnlySequence<byte> data, long skipped, long? clockOffsetMicros)
    {
        FrameReceived?.Invoke(header, data);
        try
        {
            if (_options.Decode)
            {
                Decode(header, data);
            }
            else
            {
                Verify(header, data);
            }
        }
        catch (InvalidDataException) when (_decoders.GetValueOrDefault(CodecId.H264) is H264Decoder { WaitingForKeyframe: true } && header.Codec == CodecId.H264)
        {
            // Inter-coded video after a loss (or from the middle of the stream): nothing to show until the next
            // keyframe, which the session asks for (v2: KEYFRAME_REQUEST; UDP: its own request).
            Stats.OnWaitingForKeyframe();
            KeyframeWanted = true;
            return;
        }
        catch (InvalidDataException ex)
        {
            Stats.OnCorrupt();
            ClientLog.CorruptFrame(_logger, header.Sequence, ex.Message);
            return;
        }

        // Receive-and-decode time minus capture time, both on the hub's clock.
        // (seed+tcp:// frames carry no capture time: their "capture" is when they arrived, with no offset and no latency.)
        ClockOffsetMicros = clockOffsetMicros ?? 0;
        double? latencyMs = clockOffsetMicros is { } offset ? (Clock.NowMicros() + offset - header.CaptureMicros) / 1000.0 : null;
        Stats.OnFrame(header.Width, header.Height, header.Codec, data.Length, skipped, latencyMs, header.Sequence);
        if (_options.Decode && _picture is not null)
        {
            // Lip sync: the picture is shown with its sound, at its capture time plus the sound's delay (held back at
            // most 200 ms), or now when the sound is not further behind. Flashes are timed when they are shown.
            long now = Clock.NowMicros();
            long localCapture = header.CaptureMicros - ClockOffsetMicros;
            long hold = clockOffsetMicros is null ? 0 : Math.Clamp(localCapture + (SoundDelayMicros?.Invoke() ?? 0) - now, 0, MaxHoldMicros);
            PresentAtMicros = now + hold;
            if (clockOffsetMicros is not null)
            {
                PresentedLatency.Record((PresentAtMicros - localCapture) / 1000.0);
            }

            LipSync?.OnPicture(PresentAtMicros, LipSyncMeter.Brightness(_picture.Buffer.AsSpan(_picture.Offset), _picture.Width, _picture.Height, _picture.Stride));
            FrameDecoded?.Invoke(_picture);
        }
    }

    private void Decode(in VideoFrameHeader header, ReadOnlySequence<byte> data)
    {
        if (!_decoders.TryGetValue(header.Codec, out IFrameDecoder? decoder))
        {
            decoder = CodecFactory.CreateDecoder(header.Codec);
            _decoders[header.Codec] = decoder;
        }

        if (_picture is null || _picture.Width != header.Width || _picture.Height != header.Height)
        {
            _picture?.Dispose();
            _picture = VideoFrame.Rent(header.Width, header.Height);
        }

        if (header.Codec == CodecId.RawBgr24 && _picture.Stride == header.Width * VideoFrame.BytesPerPixel)
        {
            // Raw rows are packed like the picture: one copy straight out of the pipe's segments (length checked by the parser).
            data.CopyTo(_picture.Pixels);
        }
        else
        {
            decoder.Decode(Contiguous(data), header.Width, header.Height, _picture);
        }

        _picture.Sequence = header.Sequence;
        _picture.CaptureMicros = header.CaptureMicros;
    }

    /// <summary>The checks a load generator makes without decoding: a JPEG starts with SOI and ends with EOI.</summary>
    private static void Verify(in VideoFrameHeader header, ReadOnlySequence<byte> data)
    {
        if (header.Codec != CodecId.Jpeg)
        {
            return; // Raw sizes were already checked exactly by the parser.
        }

        Span<byte> head = stackalloc byte[2];
        Span<byte> tail = stackalloc byte[2];
        data.Slice(0, 2).CopyTo(head);
        data.Slice(data.Length - 2).CopyTo(tail);
        if (head[0] != 0xFF || head[1] != 0xD8 || tail[0] != 0xFF || tail[1] != 0xD9)
        {
            throw new InvalidDataException("JPEG frame lacks its start or end marker.");
        }
    }

    private ReadOnlySpan<byte> Contiguous(ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment)
        {
            return data.FirstSpan;
        }

        if (_assembly.Length < data.Length)
        {
            if (_assembly.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_assembly);
            }

            _assembly = ArrayPool<byte>.Shared.Rent((int)data.Length);
        }

        data.CopyTo(_assembly);
        return _assembly.AsSpan(0, (int)data.Length);
    }

    public void Dispose()
    {
        foreach (IFrameDecoder decoder in _decoders.Values)
        {
            decoder.Dispose();
        }

        _decoders.Clear();
        _picture?.Dispose();
        _picture = null;
        if (_assembly.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_assembly);
            _assembly = [];
        }
    }
}
