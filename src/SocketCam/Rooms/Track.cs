using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Rooms;

/// <summary>
/// A track a participant publishes (docs/PROTOCOL.md §4.0): its description, its source's state, and the deliveries
/// of the subscribers receiving it. Fan-out offers each frame to every delivery: a reference each, never a copy.
/// Membership changes happen under the room's lock; fan-out reads a snapshot array without locking.
/// </summary>
internal sealed class Track
{
    private Delivery[] _deliveries = [];

    public Track(Participant publisher, TrackDescription description, long order, TimeSpan keyframeInterval)
    {
        Publisher = publisher;
        Description = description;
        Order = order;
        Keyframes = new KeyframeCoalescer(this, keyframeInterval);
    }

    public Participant Publisher { get; }

    public TrackDescription Description { get; internal set; }

    public ushort Id => Description.TrackId;

    public TrackKind Kind => Description.Kind;

    /// <summary>Publication order within the room (the earliest eligible video track is v1's primary).</summary>
    public long Order { get; }

    /// <summary>False while its source has no signal (<see cref="Text"/> says why).</summary>
    public bool Live { get; internal set; } = true;

    public string Text { get; internal set; } = "";

    public bool Unpublished { get; internal set; }

    public long FramesPublished => Interlocked.Read(ref _frames);

    /// <summary>`--max-publish-fps` for this track, made by its publisher's receive loop (the only one to use it).</summary>
    public Limits.PublishRateLimit? FpsLimit { get; set; }

    private long _frames;

    public KeyframeCoalescer Keyframes { get; }

    public IReadOnlyList<Delivery> Deliveries => Volatile.Read(ref _deliveries);

    public int SubscriberCount => Volatile.Read(ref _deliveries).Length;

    public TrackRecord ToRecord() => new(Publisher.Id, Live, Description, Live ? "" : Text);

    /// <summary>Offers the frame to every subscriber; one keyframe request for all that lost a frame they needed.</summary>
    public void Deliver(MediaFrame frame)
    {
        Interlocked.Increment(ref _frames);
        bool needKeyframe = false;
        foreach (Delivery d in Volatile.Read(ref _deliveries))
        {
            needKeyframe |= d.Offer(frame);
        }

        Keyframes.OnFrame(frame.Header.IsKeyframe);
        if (needKeyframe)
        {
            Keyframes.Request(reason: 2);
        }
    }

    internal void AddDelivery(Delivery delivery) => _deliveries = [.. _deliveries, delivery];

    internal void RemoveDelivery(Delivery delivery) => _deliveries = Array.FindAll(_deliveries, d => !ReferenceEquals(d, delivery));

    internal Delivery[] RemoveAllDeliveries()
    {
        Delivery[] all = _deliveries;
        _deliveries = [];
        return all;
    }
}

/// <summary>
/// Keyframe requests for one track, coalesced (docs/PROTOCOL.md §4.9): at most one forwarded to the publisher per
/// interval; after forwarding, more are absorbed until a keyframe arrives or a second passes; a request arriving too
/// soon is remembered (one flag) and forwarded with the track's next frame once the interval has passed. Tracks whose
/// frames are all keyframes never forward any.
/// </summary>
internal sealed class KeyframeCoalescer
{
    private static readonly TimeSpan AbsorbFor = TimeSpan.FromSeconds(1);
    private readonly Track _track;
    private readonly TimeSpan _interval;
    private readonly Lock _lock = new();
    private long _lastForward = long.MinValue / 2;
    private bool _pending;
    private bool _absorbing;
    private byte _pendingReason;
    private long _forwarded;
    private long _absorbed;

    public KeyframeCoalescer(Track track, TimeSpan interval)
    {
        _track = track;
        _interval = interval;
    }

    public long Forwarded => Interlocked.Read(ref _forwarded);

    public long Absorbed => Interlocked.Read(ref _absorbed);

    public void Request(byte reason)
    {
        if (CodecIds.AllKeyframes(_track.Description.Codec))
        {
            Interlocked.Increment(ref _absorbed);
            return;
        }

        bool forward;
        lock (_lock)
        {
            forward = Due();
            if (!forward)
            {
                _pending = true;
                _pendingReason = reason;
                _absorbed++;
            }
            else
            {
                Mark();
            }
        }

        if (forward)
        {
            Forward(reason);
        }
    }

    /// <summary>A frame of the track arrived: a keyframe satisfies what waits; otherwise a remembered request may now be due.</summary>
    public void OnFrame(bool keyframe)
    {
        if (CodecIds.AllKeyframes(_track.Description.Codec))
        {
            return;
        }

        byte reason;
        lock (_lock)
        {
            if (keyframe)
            {
                _pending = false;
                _absorbing = false;
                return;
            }

            if (!_pending || !Due())
            {
                return;
            }

            _pending = false;
            reason = _pendingReason;
            Mark();
        }

        Forward(reason);
    }

    private bool Due()
    {
        long now = Environment.TickCount64;
        if (now - _lastForward < _interval.TotalMilliseconds)
        {
            return false;
        }

        return !_absorbing || now - _lastForward >= AbsorbFor.TotalMilliseconds;
    }

    private void Mark()
    {
        _lastForward = Environment.TickCount64;
        _absorbing = true;
        _forwarded++;
    }

    private void Forward(byte reason) =>
        _track.Publisher.KeyframeRequested?.Invoke(new KeyframeRequestMessage(_track.Publisher.Id, _track.Id, reason));
}
