using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Rooms;

/// <summary>
/// Someone in a room (docs/PROTOCOL.md §4.0): a v2 client, a v1 publisher (one video track), the hub's own capture, or
/// a hidden watcher. What it publishes (<see cref="Tracks"/>), what it asked to receive (<see cref="Entries"/>), and
/// what it does receive (<see cref="Receiving"/>: one <see cref="Delivery"/> per track, however many entries match).
/// Changed only under the room's lock.
/// </summary>
internal sealed class Participant
{
    private readonly Dictionary<ushort, Track> _tracks = [];
    private readonly Dictionary<(uint, ushort), SubscriptionEntry> _entries = [];
    private readonly Dictionary<Track, Delivery> _receiving = [];

    public Participant(uint id, string name, long joinedAtMicros, ParticipantTransport transport, ParticipantFlags flags, bool hidden, Outbox? outbox)
    {
        Id = id;
        Name = name;
        JoinedAtMicros = joinedAtMicros;
        Transport = transport;
        Flags = flags;
        Hidden = hidden;
        Outbox = outbox;
    }

    public uint Id { get; }

    public string Name { get; }

    public long JoinedAtMicros { get; }

    public ParticipantTransport Transport { get; }

    public ParticipantFlags Flags { get; }

    /// <summary>Not announced, publishes nothing, not counted towards the participant cap.</summary>
    public bool Hidden { get; }

    /// <summary>Where its events and frames go (v2 sessions); null for participants that receive nothing of v2 (v1 publishers, the hub's capture).</summary>
    public Outbox? Outbox { get; }

    /// <summary>The hub asks this publisher for a keyframe (v2 sessions send KEYFRAME_REQUEST; others ignore it).</summary>
    public Action<KeyframeRequestMessage>? KeyframeRequested { get; set; }

    public bool Left { get; internal set; }

    public IReadOnlyDictionary<ushort, Track> Tracks => _tracks;

    public IReadOnlyCollection<SubscriptionEntry> Entries => _entries.Values;

    public IReadOnlyDictionary<Track, Delivery> Receiving => _receiving;

    public ParticipantRecord ToRecord() => new(Id, Transport, Flags, JoinedAtMicros, Name);

    internal void AddTrack(Track track) => _tracks[track.Id] = track;

    internal void RemoveTrack(Track track) => _tracks.Remove(track.Id);

    internal Dictionary<(uint, ushort), SubscriptionEntry> EntryMap => _entries;

    internal Dictionary<Track, Delivery> ReceivingMap => _receiving;

    /// <summary>Whether any of its entries asks for <paramref name="track"/> (§4.6.3's matching rule).</summary>
    public bool Wants(Track track)
    {
        foreach (SubscriptionEntry e in _entries.Values)
        {
            if (e.Matches(this, track))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>One SUBSCRIBE entry: a named track, all tracks of one participant, or all tracks of everyone else; with a kinds mask for wildcards.</summary>
internal readonly record struct SubscriptionEntry(uint ParticipantId, ushort TrackId, byte Kinds)
{
    public bool Matches(Participant subscriber, Track track)
    {
        bool kindOk = Kinds == 0 || (Kinds & (1 << ((int)track.Kind - 1))) != 0;
        if (ParticipantId == ProtocolV2.AnyParticipant)
        {
            return kindOk && track.Publisher.Id != subscriber.Id;
        }

        if (ParticipantId != track.Publisher.Id)
        {
            return false;
        }

        return TrackId == ProtocolV2.AnyTrack ? kindOk : TrackId == track.Id;
    }
}
