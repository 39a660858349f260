using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Audio;
using SocketCam.Codecs;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Sources;
using SocketCam.Transport;

namespace SocketCam.Client;

/// <summary>One source to publish as a track: what to read, how to encode it, what to call it.</summary>
internal sealed record PublishedSource(IFrameSource Source, IFrameEncoder Encoder, TrackSource Kind, string Label);

/// <summary>
/// What a participant does besides publishing (`socketcam call`): subscribe to everyone's video, hear frames and room
/// events, take part in the chat, know the session it is in.
/// </summary>
internal sealed record ParticipantHooks
{
    /// <summary>The chat across sessions (resume, resend); null: no chat.</summary>
    public ChatChannel? Chat { get; init; }

    /// <summary>Subscribe to every other participant's video tracks.</summary>
    public bool SubscribeToVideo { get; init; }

    /// <summary>Subscribe to every other participant's audio tracks.</summary>
    public bool SubscribeToAudio { get; init; }

    /// <summary>Frames of subscribed tracks (on the receive loop).</summary>
    public Func<ReceivedFrame, ValueTask>? FrameReceived { get; init; }

    /// <summary>Room events, the join snapshot included (as its last chunk), after the room state was updated.</summary>
    public Action<RoomClient, RoomEvent>? EventReceived { get; init; }

    /// <summary>A session started (its client may send chat) or ended (null).</summary>
    public Action<RoomClient?>? SessionChanged { get; init; }
}

/// <summary>
/// `publish --source A --source B`: one protocol v2 participant publishing several video tracks at once (track ids 1, 2,
/// ...), each from its own source on its own loop, over one connection (docs/PROTOCOL.md Part II). A source that fails
/// is reported as its track's no-signal (SOURCE_STATE) and retried; the session reconnects like `publish` does. With
/// <see cref="ParticipantHooks"/> it is a whole call participant (`socketcam call`): it also watches and chats.
/// </summary>
internal sealed class TrackPublisher
{
    private readonly ParticipantHooks _hooks;
    private static readonly TimeSpan SourceRetryDelay = TimeSpan.FromSeconds(2);
    private readonly StreamEndpoint _endpoint;
    private readonly ClientOptions _options;
    private readonly IReadOnlyList<PublishedSource> _sources;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly AudioTrackEncoder? _audio;
    private long _framesSent;
    private long _audioPacketsSent;
    private long _bytesSent;
    private int _reconnects;

    public TrackPublisher(StreamEndpoint endpoint, ClientOptions options, IReadOnlyList<PublishedSource> sources, string name, ILoggerFactory? loggerFactory = null, ParticipantHooks? hooks = null, AudioTrackEncoder? audio = null)
    {
        _hooks = hooks ?? new ParticipantHooks();
        _audio = audio;
        if (sources.Count > ushort.MaxValue - 2 || (sources.Count == 0 && hooks is null && audio is null))
        {
            throw new ArgumentOutOfRangeException(nameof(sources), "One source or more.");
        }

        _endpoint = endpoint;
        _options = options;
        _sources = sources;
        _name = name;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SocketCam.Publish");
    }

    public long FramesSent => Interlocked.Read(ref _framesSent);

    /// <summary>Our microphone is muted: its packets are read and dropped, its track shows "muted" to the others.</summary>
    public bool AudioMuted { get; set; }

    /// <summary>Audio packets sent (DTX silence is not sent).</summary>
    public long AudioPacketsSent => Interlocked.Read(ref _audioPacketsSent);

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

    /// <summary>This participant's id in the room (0 before the first WELCOME).</summary>
    public uint ParticipantId { get; private set; }

    public Task RunAsync(CancellationToken cancellationToken) =>
        Reconnector.RunAsync(_endpoint, _options, _logger, RunSessionAsync, (reason, delay) =>
        {
            Interlocked.Increment(ref _reconnects);
            Retry = new RetryState(reason, DateTime.UtcNow + delay, Reconnects);
        }, cancellationToken);

    private async Task RunSessionAsync(CancellationToken cancellationToken)
    {
        await using RoomClient client = await RoomClient.ConnectAsync(_endpoint, _options, _name, hidden: false, cancellationToken, _hooks.Chat);
        ParticipantId = client.ParticipantId;
        ClientLog.Connected(_logger, _endpoint.ToString(), _options.Room, client.Welcome.SessionId);
        Retry = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        client.FrameReceived = _hooks.FrameReceived;
        // Video tracks are 1..N in source order; an inter-coded encoder answers with a keyframe (JPEG ignores it).
        client.KeyframeRequested = m =>
        {
            if (m.TrackId >= 1 && m.TrackId <= _sources.Count)
            {
                _sources[m.TrackId - 1].Encoder.RequestKeyframe();
            }
        };
        if (_hooks.EventReceived is { } onEvent)
        {
            client.EventReceived = e => onEvent(client, e);
        }

        Task receive = client.ReceiveAsync(_hooks.FrameReceived is null ? 0 : _options.MaxFrameBytes, stop.Token);
        var loops = new List<Task> { receive, PingLoopAsync(client, stop.Token) };
        _hooks.SessionChanged?.Invoke(client);
        try
        {
            byte kinds = (byte)((_hooks.SubscribeToVideo ? 1 : 0) | (_hooks.SubscribeToAudio ? 2 : 0)); // bit 0 video, bit 1 audio
            if (kinds != 0)
            {
                ResultMessage subscribed = await client.SubscribeAsync(ProtocolV2.AnyParticipant, ProtocolV2.AnyTrack, stop.Token, kinds);
                if (subscribed.Code != ErrorCode.Normal)
                {
                    throw new UserFacingException($"The hub refused to send the others' media: {subscribed.Code.ToWireName()}: {subscribed.Text}");
                }
            }

            int maxFrame = (int)Math.Min(client.Welcome.MaxFrameBytes, (uint)_options.MaxFrameBytes);
            var starts = new List<Func<Task>>();
            for (int i = 0; i < _sources.Count; i++)
            {
                PublishedSource s = _sources[i];
                var track = new TrackDescription(
                    (ushort)(i + 1), TrackKind.Video, s.Encoder.Codec, s.Kind, Truncate(s.Label),
                    (ushort)Math.Clamp(s.Source.Width, 0, FrameLimits.MaxDimension), (ushort)Math.Clamp(s.Source.Height, 0, FrameLimits.MaxDimension),
                    (uint)Math.Max(0, s.Source.Fps * 1000));
                if (s.Source.Width == 0 || s.Source.Height == 0)
                {
                    track = track with { A = 0, B = 0 };
                }

                ResultMessage result = await client.PublishAsync(track, stop.Token);
                if (result.Code != ErrorCode.Normal)
                {
                    throw new UserFacingException($"The hub refused track {track.TrackId} ({s.Label}): {result.Code.ToWireName()}: {result.Text}");
                }

                ushort videoTrack = track.TrackId;
                starts.Add(() => SendLoopAsync(client, videoTrack, s, maxFrame, stop.Token));
            }

            if (_audio is { } audio)
            {
                AudioFormat f = audio.Format;
                var track = new TrackDescription(
                    (ushort)(_sources.Count + 1), TrackKind.Audio, CodecId.Opus, audio.Spec.TrackSource, Truncate(audio.Spec.ToString()),
                    A: (ushort)f.Channels, Rate: (uint)f.SampleRate, PacketMicros: (uint)f.PacketMicros, Bitrate: (uint)audio.Options.Bitrate,
                    Flags: (byte)((audio.Options.Fec ? 1 : 0) | (audio.Options.Dtx ? 2 : 0)));
                ResultMessage result = await client.PublishAsync(track, stop.Token);
                if (result.Code != ErrorCode.Normal)
                {
                    throw new UserFacingException($"The hub refused the audio track ({audio.Spec}): {result.Code.ToWireName()}: {result.Text}");
                }

                starts.Add(() => AudioLoopAsync(client, track.TrackId, audio, stop.Token));
            }

            // Frames only once every track is published: a recorder then knows of the sound before the first picture
            // (a file started without an audio track would have to be closed and a new one begun).
            loops.AddRange(starts.Select(start => start()));

            // Until one ends: the receive loop (the hub went away or said goodbye) or a source loop (a fatal error).
            Task first = await Task.WhenAny(loops);
            await first;
        }
        finally
        {
            _hooks.SessionChanged?.Invoke(null);
            await stop.CancelAsync();
            await Task.WhenAll(loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await client.SayGoodbyeAsync(CancellationToken.None);
        }
    }

    private async Task PingLoopAsync(RoomClient client, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.PingInterval);
        try
        {
            do
            {
                await client.PingAsync(cancellationToken);
                RttMilliseconds = client.LastRttMilliseconds;
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task SendLoopAsync(RoomClient client, ushort trackId, PublishedSource s, int maxFrame, CancellationToken cancellationToken)
    {
        while (true)
        {
            MediaFrame? frame;
            try
            {
                frame = await FrameEncoding.ReadAsync(s.Source, s.Encoder, cancellationToken) ?? throw new SourceEndedException($"{s.Label} ended.");
            }
            catch (SourceFailedException ex)
            {
                ClientLog.SourceFailed(_logger, ex.Message, SourceRetryDelay.TotalSeconds);
                await client.SendSourceStateAsync(trackId, false, ex.Message, cancellationToken);
                await Task.Delay(SourceRetryDelay, cancellationToken);
                continue;
            }

            try
            {
                if (frame.DataLength > maxFrame)
                {
                    throw new UserFacingException($"A {frame.DataLength}-byte frame of {s.Label} exceeds the hub's {maxFrame}-byte limit: lower --size or --quality.");
                }

                // The hub marks the track live again with its next frame (§4.6.6): nothing to send for that.
                await client.SendFrameAsync(trackId, frame.Header, frame.Payload, cancellationToken);
                Interlocked.Increment(ref _framesSent);
                Interlocked.Add(ref _bytesSent, ProtocolConstants.MessageHeaderSize + ProtocolV2.FrameHeaderSize + frame.DataLength);
            }
            finally
            {
                frame.Release();
            }
        }
    }

    // Sound that fails (a microphone unplugged, a file without audio) is the audio track's no-signal: the call goes on.
    private async Task AudioLoopAsync(RoomClient client, ushort trackId, AudioTrackEncoder audio, CancellationToken cancellationToken)
    {
        bool mutedSaid = false;
        while (true)
        {
            MediaFrame? frame = await audio.ReadLiveAsync(cancellationToken);
            if (frame is null)
            {
                ClientLog.AudioStopped(_logger, audio.Failure!);
                await client.SendSourceStateAsync(trackId, false, audio.Failure!, cancellationToken);
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return;
            }

            try
            {
                if (AudioMuted)
                {
                    // Muted: the microphone keeps being read (unmuting is instant) but nothing leaves; the others see why.
                    if (!mutedSaid)
                    {
                        await client.SendSourceStateAsync(trackId, false, "muted", cancellationToken);
                        mutedSaid = true;
                    }

                    continue;
                }

                mutedSaid = false; // the hub marks the track live again with this frame

                await client.SendFrameAsync(trackId, frame.Header, frame.Payload, cancellationToken);
                Interlocked.Increment(ref _audioPacketsSent);
                Interlocked.Add(ref _bytesSent, ProtocolConstants.MessageHeaderSize + ProtocolV2.FrameHeaderSize + frame.DataLength);
            }
            finally
            {
                frame.Release();
            }
        }
    }

    private static string Truncate(string label)
    {
        string printable = MessageWriter.Printable(label);
        while (System.Text.Encoding.UTF8.GetByteCount(printable) > ProtocolV2.MaxNameLength)
        {
            printable = printable[..^1];
        }

        return printable;
    }
}
