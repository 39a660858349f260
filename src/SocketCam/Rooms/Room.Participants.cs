using System.Security.Cryptography;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Rooms;

/// <summary>
/// The room as participants and tracks (docs/PROTOCOL.md Part II): joins and leaves, PUBLISH / UNPUBLISH / SUBSCRIBE /
/// UNSUBSCRIBE, the event stream (each event built once, queued to every v2 participant under the room's lock, so all
/// see the same order), fan-out of every track's frames to its deliveries, and v1's view of it all: the v1 publisher
/// seat is a participant with one video track, and v1 viewers watch the room's primary video track.
/// </summary>
public sealed partial class Room
{
    private readonly Dictionary<uint, Participant> _participants = [];
    private readonly List<Track> _tracks = [];
    private uint _nextParticipantId = 1;
    private ulong _eventSeq;
    private long _trackOrder;
    private int _visibleCount;
    private Track? _primary;
    private Track? _primaryAudio;
    private Participant? _seat;
    private TrackDescription? _seatDescription;

    /// <summary>Random, non-zero, new for each room object (§4.4).</summary>
    internal ulong Epoch { get; } = NewEpoch();

    internal RoomLimits Limits { get; init; } = new();

    internal ulong EventSequence
    {
        get
        {
            lock (_lock)
            {
                return _eventSeq;
            }
        }
    }

    /// <summary>Visible participants and their tracks, for `socketcam rooms` and /api/rooms.</summary>
    internal (ParticipantRecord[] Participants, TrackRecord[] Tracks) Describe()
    {
        lock (_lock)
        {
            return (
                _participants.Values.Where(p => !p.Hidden).OrderBy(p => p.Id).Select(p => p.ToRecord()).ToArray(),
                _tracks.Select(t => t.ToRecord()).ToArray());
        }
    }

    /// <summary>Visible participants, tracks, and how many watch without being listed (hidden v2 participants, v1 viewers).</summary>
    public (ParticipantRecord[] Participants, TrackRecord[] Tracks, uint Hidden) DescribeAll()
    {
        lock (_lock)
        {
            (ParticipantRecord[] participants, TrackRecord[] tracks) = Describe();
            return (participants, tracks, (uint)(ViewerCount + _participants.Count - _visibleCount));
        }
    }

    internal int ParticipantCount
    {
        get
        {
            lock (_lock)
            {
                return _visibleCount;
            }
        }
    }

    /// <summary>The track v1 viewers watch (earliest published video track in a v1 codec), or null.</summary>
    internal Track? PrimaryTrack => Volatile.Read(ref _primary);

    /// <summary>The audio recorders keep with the primary track: its owner's earliest published Opus track, or null.</summary>
    internal Track? PrimaryAudioTrack => Volatile.Read(ref _primaryAudio);

    /// <summary>
    /// Adds a participant. A v2 one (with an <paramref name="outbox"/>) gets the snapshot of the room as of its join,
    /// queued in the same step, so every later event follows it; the others get PARTICIPANT_JOINED (visible ones only).
    /// </summary>
    /// <exception cref="ProtocolException">room-full.</exception>
    internal Participant Join(string name, ParticipantTransport transport, ParticipantFlags flags, bool hidden, Outbox? outbox)
    {
        lock (_lock)
        {
            if (!hidden && _visibleCount >= Limits.MaxParticipants)
            {
                throw new ProtocolException(ErrorCode.RoomFull, $"Room '{Name}' has {_visibleCount} participants; the limit is {Limits.MaxParticipants}.");
            }

            uint id = _nextParticipantId++;
            var participant = new Participant(id, name.Length == 0 ? $"participant-{id}" : name, Clock.NowMicros(), transport, flags, hidden, outbox);
            if (!hidden)
            {
                _visibleCount++;
                Broadcast(seq => MessageWriterV2.ParticipantJoined(seq, participant.ToRecord()));
            }

            _participants[id] = participant;
            if (outbox is not null)
            {
                List<byte[]> chunks = MessageWriterV2.Snapshot(
                    _eventSeq,
                    _participants.Values.Where(p => !p.Hidden).OrderBy(p => p.Id).Select(p => p.ToRecord()).ToList(),
                    _tracks.Select(t => t.ToRecord()).ToList());
                foreach (byte[] chunk in chunks)
                {
                    outbox.EnqueueControl(chunk, counted: false);
                }
            }

            return participant;
        }
    }

    /// <summary>Removes a participant: its tracks are unpublished (events first), its deliveries closed, then PARTICIPANT_LEFT.</summary>
    internal void Leave(Participant participant, ErrorCode reason)
    {
        bool notify;
        lock (_lock)
        {
            if (participant.Left)
            {
                return;
            }

            participant.Left = true;
            foreach (Track track in participant.Tracks.Values.ToArray())
            {
                UnpublishLocked(track, reason);
            }

            foreach (Delivery d in participant.ReceivingMap.Values)
            {
                d.Track.RemoveDelivery(d);
                participant.Outbox?.Detach(d);
            }

            participant.ReceivingMap.Clear();
            participant.EntryMap.Clear();
            _participants.Remove(participant.Id);
            if (!participant.Hidden)
            {
                _visibleCount--;
                Broadcast(seq => MessageWriterV2.ParticipantLeft(seq, participant.Id, reason));
            }

            // Entries naming this participant go with it (§4.6.3).
            foreach (Participant other in _participants.Values)
            {
                foreach ((uint, ushort) key in other.EntryMap.Keys.Where(k => k.Item1 == participant.Id).ToArray())
                {
                    other.EntryMap.Remove(key);
                }
            }

            notify = UpdatePrimaryLocked();
        }

        // The v1 seat's owner tells v1 viewers itself (SIGNAL "publisher left", or GOODBYE on shutdown), as before.
        AfterPrimaryChange(notify && !ReferenceEquals(participant, _seatLeaving));
        _viewersChanged.Set();
    }

    /// <summary>PUBLISH: announced to the room (TRACK_PUBLISHED) before the result is returned.</summary>
    internal ResultMessage Publish(Participant participant, uint requestId, TrackDescription description) =>
        PublishTrack(participant, requestId, description, out _);

    internal ResultMessage PublishTrack(Participant participant, uint requestId, TrackDescription description, out Track? track)
    {
        track = null;
        bool notify;
        lock (_lock)
        {
            if (participant.Hidden)
            {
                return Refuse(requestId, ErrorCode.NotAllowed, 0, "a hidden participant cannot publish");
            }

            if (participant.Tracks.ContainsKey(description.TrackId))
            {
                return Refuse(requestId, ErrorCode.TrackExists, description.TrackId, $"track {description.TrackId} is already published");
            }

            if (participant.Tracks.Count >= Limits.MaxTracks)
            {
                return Refuse(requestId, ErrorCode.TooManyTracks, (uint)Limits.MaxTracks, $"at most {Limits.MaxTracks} tracks per participant");
            }

            if (CodecIds.KindOf(description.Codec) != description.Kind)
            {
                return Refuse(requestId, ErrorCode.UnsupportedMedia, 0, $"{description.Kind.ToString().ToLowerInvariant()} codec {CodecIds.Name(description.Codec)} is not accepted here");
            }

            track = PublishLocked(participant, description);
            notify = UpdatePrimaryLocked();
        }

        AfterPrimaryChange(notify);
        _viewersChanged.Set();
        return new ResultMessage(requestId, ErrorCode.Normal, 0, "");
    }

    internal ResultMessage Unpublish(Participant participant, uint requestId, ushort trackId)
    {
        bool notify;
        lock (_lock)
        {
            if (!participant.Tracks.TryGetValue(trackId, out Track? track))
            {
                return Refuse(requestId, ErrorCode.UnknownTrack, 0, $"track {trackId} is not published by you");
            }

            UnpublishLocked(track, ErrorCode.Normal);
            notify = UpdatePrimaryLocked();
        }

        AfterPrimaryChange(notify);
        return new ResultMessage(requestId, ErrorCode.Normal, 0, "");
    }

    /// <summary>SUBSCRIBE: adds or updates an entry; deliveries start for every track it newly matches.</summary>
    internal ResultMessage Subscribe(Participant subscriber, uint requestId, uint participantId, ushort trackId, byte kinds)
    {
        lock (_lock)
        {
            if (subscriber.Outbox is null)
            {
                return Refuse(requestId, ErrorCode.NotAllowed, 0, "this participant cannot receive tracks");
            }

            if (participantId != ProtocolV2.AnyParticipant)
            {
                if (!_participants.TryGetValue(participantId, out Participant? publisher) || publisher.Hidden)
                {
                    return Refuse(requestId, ErrorCode.UnknownTrack, 0, $"participant {participantId} is not in the room");
                }

                if (trackId != ProtocolV2.AnyTrack && !publisher.Tracks.ContainsKey(trackId))
                {
                    return Refuse(requestId, ErrorCode.UnknownTrack, 0, $"participant {participantId} has no track {trackId}");
                }
            }

            var key = (participantId, trackId);
            if (!subscriber.EntryMap.ContainsKey(key) && subscriber.EntryMap.Count >= Limits.MaxSubscriptions)
            {
                return Refuse(requestId, ErrorCode.TooManySubscriptions, (uint)Limits.MaxSubscriptions, $"at most {Limits.MaxSubscriptions} subscriptions");
            }

            subscriber.EntryMap[key] = new SubscriptionEntry(participantId, trackId, kinds);
            foreach (Track track in _tracks)
            {
                if (!subscriber.ReceivingMap.ContainsKey(track) && subscriber.Wants(track))
                {
                    StartDeliveryLocked(subscriber, track);
                }
            }
        }

        _viewersChanged.Set();
        return new ResultMessage(requestId, ErrorCode.Normal, 0, "");
    }

    /// <summary>UNSUBSCRIBE: removes exactly that entry (idempotent); tracks no other entry matches stop.</summary>
    internal ResultMessage Unsubscribe(Participant subscriber, uint requestId, uint participantId, ushort trackId)
    {
        lock (_lock)
        {
            if (subscriber.EntryMap.Remove((participantId, trackId)))
            {
                foreach ((Track track, Delivery d) in subscriber.ReceivingMap.ToArray())
                {
                    if (!subscriber.Wants(track))
                    {
                        StopDeliveryLocked(subscriber, d);
                    }
                }
            }
        }

        return new ResultMessage(requestId, ErrorCode.Normal, 0, "");
    }

    /// <summary>The participant's published track, or null (FRAME for anything else is not-published).</summary>
    internal Track? FindTrack(Participant participant, ushort trackId)
    {
        lock (_lock)
        {
            return participant.Tracks.GetValueOrDefault(trackId);
        }
    }

    /// <summary>SOURCE_STATE: a change becomes TRACK_STATE (repeats send nothing); the primary track's state is v1's SIGNAL.</summary>
    internal void SetTrackState(Track track, bool live, string text)
    {
        string printable = MessageWriter.Printable(text).Trim();
        bool primary;
        lock (_lock)
        {
            if (!SetTrackStateLocked(track, live, printable))
            {
                return;
            }

            primary = ReferenceEquals(track, _primary);
        }

        if (primary)
        {
            SetSignal(live, printable);
        }
    }

    /// <summary>Forwards a subscriber's KEYFRAME_REQUEST (coalesced) when it receives that track; false when it does not.</summary>
    internal bool RequestKeyframe(Participant subscriber, uint participantId, ushort trackId)
    {
        Track? track;
        lock (_lock)
        {
            track = subscriber.ReceivingMap.Keys.FirstOrDefault(t => t.Publisher.Id == participantId && t.Id == trackId);
        }

        track?.Keyframes.Request(0);
        return track is not null;
    }

    /// <summary>
    /// Fan-out of one frame of <paramref name="track"/>: its wire headers are written once, then every subscriber gets a
    /// reference. The primary track's frames also go to v1 viewers and recorders (awaited: a recorder never loses one).
    /// </summary>
    internal ValueTask PublishAsync(Track track, MediaFrame frame, CancellationToken cancellationToken)
    {
        if (track.Unpublished)
        {
            return ValueTask.CompletedTask;
        }

        frame.SetTrack(track.Publisher.Id, track.Id);
        if (!track.Live)
        {
            SetTrackState(track, true, "");
        }

        if (!ReferenceEquals(track, Volatile.Read(ref _primary)))
        {
            FrameFraming.Stamp(frame, frame.Header.Sequence);
            track.Deliver(frame);
            // The primary participant's audio is recorded with its video: subscribers first (they never wait for a
            // recorder), then every recorder queues the packet, holding the publisher back only if one is full.
            if (!ReferenceEquals(track, Volatile.Read(ref _primaryAudio)))
            {
                return ValueTask.CompletedTask;
            }

            // v1 viewers that carry sound (UDP) hear the participant they watch, like v2 subscribers: never waiting.
            foreach (IRoomViewer viewer in Volatile.Read(ref _viewers))
            {
                (viewer as IRoomAudioViewer)?.OfferAudio(frame);
            }

            return OfferToRecordersAsync(frame, cancellationToken);
        }

        FrameFraming.Stamp(frame, frame.Header.Sequence);
        track.Deliver(frame);
        return PublishToV1Async(frame, cancellationToken);
    }

    /// <summary>
    /// The v1 seat: claims it for <paramref name="owner"/> and adds its participant (visible, one video track published
    /// at its first frame, or now when <paramref name="description"/> is known, like the hub's own capture).
    /// </summary>
    /// <param name="keyframeRequested">Called when a keyframe of the seat's track is asked for (coalesced, §4.9): inter-coded sources answer it.</param>
    public bool TryClaimPublisher(object owner, string name, ParticipantTransport transport, ParticipantFlags flags = ParticipantFlags.SpeaksV1, TrackDescription? description = null, Action? keyframeRequested = null)
    {
        if (Interlocked.CompareExchange(ref _publisher, owner, null) is not null)
        {
            return false;
        }

        try
        {
            Participant seat = Join(name, transport, flags, hidden: false, outbox: null);
            if (keyframeRequested is not null)
            {
                seat.KeyframeRequested = _ => keyframeRequested();
            }

            lock (_lock)
            {
                _seat = seat;
                _seatDescription = description;
            }

            if (description is not null)
            {
                PublishTrack(seat, 0, description, out _);
            }

            return true;
        }
        catch (ProtocolException)
        {
            Interlocked.CompareExchange(ref _publisher, null, owner);
            throw;
        }
    }

    /// <summary>Frees the v1 seat <paramref name="owner"/> claimed with <see cref="TryClaimPublisher(object, string, ParticipantTransport, ParticipantFlags, TrackDescription?, Action?)"/> (its participant leaves); anyone else's claim is left alone.</summary>
    public void ReleasePublisher(object owner)
    {
        if (!ReferenceEquals(Volatile.Read(ref _publisher), owner))
        {
            return;
        }

        Participant? seat;
        lock (_lock)
        {
            seat = _seat;
            _seat = null;
        }

        if (seat is not null)
        {
            _seatLeaving = seat;
            Leave(seat, ErrorCode.Normal);
            _seatLeaving = null;
        }

        Interlocked.CompareExchange(ref _publisher, null, owner);
    }

    /// <summary>The v1 seat's sound is its track 2 (docs/PROTOCOL.md §2.0 "Audio"); its video is track 1.</summary>
    internal const ushort SeatAudioTrackId = 2;

    /// <summary>
    /// A packet of the v1 seat's sound (a UDP publisher's AUDIO, samples per channel in its Width): the seat's Opus track is
    /// published at the first packet and republished when the channels change; then it goes out like any track's frame.
    /// Without a seat (its owner left meanwhile) nothing happens.
    /// </summary>
    internal ValueTask PublishSeatAudioAsync(MediaFrame frame, int channels, CancellationToken cancellationToken)
    {
        Track? track;
        lock (_lock)
        {
            if (_seat is not { } seat)
            {
                return ValueTask.CompletedTask;
            }

            track = seat.Tracks.GetValueOrDefault(SeatAudioTrackId);
            if (track is null || track.Description.A != channels)
            {
                if (track is not null)
                {
                    UnpublishLocked(track, ErrorCode.Normal);
                }

                uint packetMicros = (uint)(frame.Header.Width * 1_000_000L / 48_000);
                track = PublishLocked(seat, new TrackDescription(SeatAudioTrackId, TrackKind.Audio, CodecId.Opus, TrackSource.Microphone, "", A: (ushort)channels, Rate: 48_000, PacketMicros: packetMicros));
                UpdatePrimaryLocked(); // the seat's video, if primary, now has its sound (for v1 viewers and recorders)
            }
        }

        return PublishAsync(track, frame, cancellationToken);
    }

    /// <summary>
    /// The v1 seat's publisher lost one of its own frames on the way in (UDP): a keyframe of its video track is asked for
    /// through the track's coalescer (§4.9), like any other request. Nothing when <paramref name="owner"/> no longer holds the seat.
    /// </summary>
    internal void RequestSeatKeyframe(object owner, byte reason)
    {
        if (!ReferenceEquals(Volatile.Read(ref _publisher), owner))
        {
            return;
        }

        Track? track;
        lock (_lock)
        {
            track = _seat?.Tracks.GetValueOrDefault((ushort)1);
        }

        track?.Keyframes.Request(reason);
    }

    /// <summary>The seat's track for a v1 frame: published at the first frame, republished when the codec changes (§4.12).</summary>
    private Track? SeatTrack(in FrameInfo frame)
    {
        Participant? seat;
        Track? track;
        lock (_lock)
        {
            seat = _seat;
            if (seat is null)
            {
                return null;
            }

            track = seat.Tracks.GetValueOrDefault((ushort)1);
            if (track is not null && track.Description.Codec == frame.Codec)
            {
                return track;
            }
        }

        TrackDescription description = _seatDescription is { } d
            ? d with { Codec = frame.Codec, A = (ushort)frame.Width, B = (ushort)frame.Height }
            : new TrackDescription(1, TrackKind.Video, frame.Codec, TrackSource.Unknown, "", (ushort)frame.Width, (ushort)frame.Height);
        Track published;
        bool notify;
        lock (_lock)
        {
            // A codec change is TRACK_UNPUBLISHED + TRACK_PUBLISHED for v2 (§4.12), in one step: v1 viewers see the same
            // stream go on (v1 frames carry their codec), with no SIGNAL in between.
            bool wasPrimary = track is not null && ReferenceEquals(track, _primary);
            if (track is not null)
            {
                UnpublishLocked(track, ErrorCode.Normal);
            }

            published = PublishLocked(seat, description);
            notify = UpdatePrimaryLocked() && !wasPrimary;
            if (_noSignalReason is { } reason)
            {
                // A SIGNAL before the first frame becomes the track's state (§4.12).
                SetTrackStateLocked(published, false, reason);
            }
        }

        AfterPrimaryChange(notify);
        _viewersChanged.Set();
        return published;
    }

    private Track PublishLocked(Participant participant, TrackDescription description)
    {
        var track = new Track(participant, description, ++_trackOrder, Limits.KeyframeInterval);
        participant.AddTrack(track);
        _tracks.Add(track);
        Broadcast(seq => MessageWriterV2.TrackPublished(seq, track.ToRecord()));
        foreach (Participant p in _participants.Values)
        {
            if (p.Outbox is not null && p.Wants(track))
            {
                StartDeliveryLocked(p, track);
            }
        }

        return track;
    }

    private void UnpublishLocked(Track track, ErrorCode reason)
    {
        track.Unpublished = true;
        track.Publisher.RemoveTrack(track);
        _tracks.Remove(track);
        // Emptied in the same step as the event is queued: nothing of it is delivered after TRACK_UNPUBLISHED (§4.8).
        foreach (Delivery d in track.RemoveAllDeliveries())
        {
            Participant? subscriber = FindByOutbox(d.Outbox);
            subscriber?.ReceivingMap.Remove(track);
            d.Outbox.Detach(d);
        }

        Broadcast(seq => MessageWriterV2.TrackUnpublished(seq, track.Publisher.Id, track.Id, reason));
        foreach (Participant p in _participants.Values)
        {
            foreach ((uint, ushort) key in p.EntryMap.Keys.Where(k => k.Item1 == track.Publisher.Id && k.Item2 == track.Id).ToArray())
            {
                p.EntryMap.Remove(key);
            }
        }
    }

    private bool SetTrackStateLocked(Track track, bool live, string text)
    {
        if (track.Live == live && (live || string.Equals(track.Text, text, StringComparison.Ordinal)))
        {
            return false;
        }

        track.Live = live;
        track.Text = live ? "" : text;
        Broadcast(seq => MessageWriterV2.TrackState(seq, track.Publisher.Id, track.Id, live, text));
        return true;
    }

    private void StartDeliveryLocked(Participant subscriber, Track track)
    {
        var delivery = new Delivery(track, subscriber.Outbox!);
        subscriber.ReceivingMap[track] = delivery;
        subscriber.Outbox!.Attach(delivery);
        track.AddDelivery(delivery);
        if (!CodecIds.AllKeyframes(track.Description.Codec))
        {
            track.Keyframes.Request(1);
        }
    }

    private static void StopDeliveryLocked(Participant subscriber, Delivery delivery)
    {
        subscriber.ReceivingMap.Remove(delivery.Track);
        delivery.Track.RemoveDelivery(delivery);
        subscriber.Outbox?.Detach(delivery);
    }

    private Participant? FindByOutbox(Outbox outbox)
    {
        foreach (Participant p in _participants.Values)
        {
            if (ReferenceEquals(p.Outbox, outbox))
            {
                return p;
            }
        }

        return null;
    }

    /// <summary>
    /// CHAT_MESSAGE (§4.15): a message the chat store has made durable, announced to everyone in the room like any event
    /// (the store calls this in chat_seq order, so events and sequence numbers agree).
    /// </summary>
    internal void AnnounceChat(ChatMessage message)
    {
        lock (_lock)
        {
            Broadcast(seq => MessageWriterV2.ChatMessage(seq, message));
        }
    }

    /// <summary>Builds one event with the next sequence number and queues the same array to every v2 participant.</summary>
    private void Broadcast(Func<ulong, byte[]> build)
    {
        byte[] message = build(++_eventSeq);
        foreach (Participant p in _participants.Values)
        {
            // A participant whose queue overflows is ended by its own session (Outbox.Overflowed); the others go on.
            p.Outbox?.EnqueueControl(message);
        }
    }

    private static ResultMessage Refuse(uint requestId, ErrorCode code, uint value, string text) => new(requestId, code, value, text);

    /// <summary>Re-chooses the primary track (and the audio recorded with it); true when v1 viewers must hear about a change.</summary>
    private bool UpdatePrimaryLocked()
    {
        Track? best = null;
        foreach (Track t in _tracks)
        {
            if (t.Kind == TrackKind.Video && CodecIds.IsWatchableVideo(t.Description.Codec) && (best is null || t.Order < best.Order))
            {
                best = t;
            }
        }

        Track? audio = null;
        foreach (Track t in _tracks)
        {
            if (best is not null && ReferenceEquals(t.Publisher, best.Publisher) && t.Kind == TrackKind.Audio
                && t.Description.Codec == CodecId.Opus && (audio is null || t.Order < audio.Order))
            {
                audio = t;
            }
        }

        if (!ReferenceEquals(audio, _primaryAudio))
        {
            Volatile.Write(ref _primaryAudio, audio);
            int channels = RecordedAudioChannelsLocked();
            foreach (IRoomRecorder recorder in _recorders)
            {
                recorder.SetAudio(channels);
            }
        }

        if (ReferenceEquals(best, _primary))
        {
            return false;
        }

        Volatile.Write(ref _primary, best);
        PrimaryCodecChangedLocked(best);
        return true;
    }

    /// <summary>The channels (1 or 2) of the audio heard with the primary track (v1 viewers that carry sound), 1 without one.</summary>
    internal int HeardAudioChannels => Volatile.Read(ref _primaryAudio) is { } t ? Math.Clamp((int)t.Description.A, 1, 2) : 1;

    /// <summary>The recorded audio track's channels (1 or 2), or 0 without one; call under the lock.</summary>
    private int RecordedAudioChannelsLocked() => _primaryAudio is { } t ? Math.Clamp((int)t.Description.A, 1, 2) : 0;

    /// <summary>v1 viewers: no primary track any more is SIGNAL(0); the new primary's frames (and state) follow.</summary>
    private void AfterPrimaryChange(bool changed)
    {
        if (!changed)
        {
            return;
        }

        Track? primary = Volatile.Read(ref _primary);
        if (primary is { Description.Codec: CodecId.H264 })
        {
            primary.Keyframes.Request(reason: 1); // its viewers (and the transcoder) start again at a keyframe
        }

        if (primary is null)
        {
            bool videoLeft;
            bool seated;
            lock (_lock)
            {
                videoLeft = _tracks.Any(t => t.Kind == TrackKind.Video);
                seated = _seat is not null;
            }

            SetSignal(false, videoLeft ? "no video in a v1 codec" : seated ? "track ended" : PublisherLeftReason);
        }
        else if (!primary.Live)
        {
            SetSignal(false, primary.Text);
        }
    }

    private Participant? _seatLeaving;

    /// <summary>Why v1 viewers lose the signal when the publisher's session ends (docs/PROTOCOL.md, SIGNAL).</summary>
    public const string PublisherLeftReason = "publisher left";

    private static ulong NewEpoch()
    {
        Span<byte> bytes = stackalloc byte[8];
        ulong epoch;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            epoch = BitConverter.ToUInt64(bytes);
        }
        while (epoch == 0);
        return epoch;
    }
}
