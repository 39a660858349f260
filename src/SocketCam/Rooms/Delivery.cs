using SocketCam.Media;

namespace SocketCam.Rooms;

/// <summary>
/// One track delivered to one subscriber: the track's kind chooses the policy (video: a keyframe-aware newest-wins
/// <see cref="VideoSlot"/>; audio: a short <see cref="AudioFifo"/>). Held by the track (fan-out offers to it) and by
/// the subscriber's <see cref="Outbox"/> (its send loop takes from it).
/// </summary>
internal sealed class Delivery
{
    private readonly VideoSlot? _video;
    private readonly AudioFifo? _audio;

    public Delivery(Track track, Outbox outbox)
    {
        Track = track;
        Outbox = outbox;
        if (track.Kind == TrackKind.Audio)
        {
            _audio = new AudioFifo(outbox.Wake);
        }
        else
        {
            _video = new VideoSlot(outbox.Wake);
            if (!CodecIds.AllKeyframes(track.Description.Codec))
            {
                _video.RequireKeyframe();
            }
        }
    }

    public Track Track { get; }

    public Outbox Outbox { get; }

    public TrackKind Kind => Track.Kind;

    public long Dropped => _video?.Dropped ?? _audio!.Dropped;

    /// <summary>Stopwatch ticks since the waiting item was offered; 0 when nothing waits.</summary>
    public long WaitingSince => _video is { } v ? (v.IsFull ? v.WaitingSince : 0) : _audio!.WaitingSince;

    /// <summary>Offers a frame (a reference is taken when it is kept); returns whether the publisher should be asked for a keyframe.</summary>
    public bool Offer(MediaFrame frame)
    {
        if (_audio is not null)
        {
            _audio.Offer(frame);
            return false;
        }

        return _video!.Offer(frame) == SlotOffer.DroppedNeedKeyframe;
    }

    public MediaFrame? Take() => _video?.Take() ?? _audio!.Take();

    /// <summary>Ends the delivery: what waits is released, later offers are refused.</summary>
    public void Close()
    {
        _video?.Close();
        _audio?.Close();
    }
}

/// <summary>
/// Everything waiting to be sent to one participant, in the order the protocol promises (docs/PROTOCOL.md §4.8): the
/// reliable control queue (events, results, keyframe requests, pongs) first, then audio, then video; among tracks of
/// one kind the item that has waited longest. One wake signal for one send loop, the connection's only writer. The
/// control queue is bounded in messages and bytes: overflowing it ends the connection (slow consumer), never loses an
/// event silently.
/// </summary>
internal sealed class Outbox
{
    private readonly AsyncSignal _signal = new();
    private readonly Queue<(byte[] Message, bool Counted)> _control = new();
    private readonly int _maxMessages;
    private readonly long _maxBytes;
    private readonly Lock _lock = new();
    private Delivery[] _deliveries = [];
    private long _controlBytes;
    private int _controlCounted;
    private bool _overflowed;
    private bool _closed;

    public Outbox(int maxMessages, long maxBytes)
    {
        _maxMessages = maxMessages;
        _maxBytes = maxBytes;
        Wake = _signal.Set;
    }

    /// <summary>Wakes the send loop (deliveries call it after an offer).</summary>
    public Action Wake { get; }

    /// <summary>Called once when the control queue overflows: the owner ends the connection with slow-consumer.</summary>
    public Action? Overflowed { get; set; }

    public bool IsOverflowed
    {
        get
        {
            lock (_lock)
            {
                return _overflowed;
            }
        }
    }

    public IReadOnlyList<Delivery> Deliveries => Volatile.Read(ref _deliveries);

    public long FramesDropped
    {
        get
        {
            long sum = _droppedByRemoved;
            foreach (Delivery d in Volatile.Read(ref _deliveries))
            {
                sum += d.Dropped;
            }

            return sum;
        }
    }

    private long _droppedByRemoved;

    /// <summary>
    /// Queues a control message. <paramref name="counted"/> false for the snapshot's chunks (bounded by the room's
    /// size, not by the reader). Returns false when the queue is closed or just overflowed (then <see cref="Overflowed"/> runs).
    /// </summary>
    public bool EnqueueControl(byte[] message, bool counted = true)
    {
        bool overflow = false;
        lock (_lock)
        {
            if (_closed || _overflowed)
            {
                return false;
            }

            if (counted && (_controlCounted >= _maxMessages || _controlBytes + message.Length > _maxBytes))
            {
                _overflowed = true;
                overflow = true;
            }
            else
            {
                _control.Enqueue((message, counted));
                if (counted)
                {
                    _controlCounted++;
                    _controlBytes += message.Length;
                }
            }
        }

        if (overflow)
        {
            Overflowed?.Invoke();
            _signal.Set();
            return false;
        }

        _signal.Set();
        return true;
    }

    public void Attach(Delivery delivery)
    {
        lock (_lock)
        {
            _deliveries = [.. _deliveries, delivery];
        }
    }

    public void Detach(Delivery delivery)
    {
        lock (_lock)
        {
            _deliveries = Array.FindAll(_deliveries, d => !ReferenceEquals(d, delivery));
            _droppedByRemoved += delivery.Dropped;
        }

        delivery.Close();
    }

    public ValueTask WaitAsync(CancellationToken cancellationToken) => _signal.WaitAsync(cancellationToken);

    /// <summary>The next control message, or null.</summary>
    public byte[]? TakeControl()
    {
        lock (_lock)
        {
            if (_control.TryDequeue(out (byte[] Message, bool Counted) item))
            {
                if (item.Counted)
                {
                    // Only what was counted in is counted out: a snapshot chunk must not free room for events.
                    _controlCounted--;
                    _controlBytes -= item.Message.Length;
                }

                return item.Message;
            }

            return null;
        }
    }

    /// <summary>The next frame: audio before video, the longest-waiting first; null when none waits.</summary>
    public MediaFrame? TakeFrame(out Delivery? from)
    {
        from = null;
        long best = long.MaxValue;
        bool bestAudio = false;
        foreach (Delivery d in Volatile.Read(ref _deliveries))
        {
            long since = d.WaitingSince;
            if (since == 0)
            {
                continue;
            }

            bool audio = d.Kind == TrackKind.Audio;
            if ((audio && !bestAudio) || (audio == bestAudio && since < best))
            {
                from = d;
                best = since;
                bestAudio = audio;
            }
        }

        return from?.Take();
    }

    /// <summary>Nothing more is queued or delivered; what waits is released.</summary>
    public void Close()
    {
        Delivery[] deliveries;
        lock (_lock)
        {
            _closed = true;
            _control.Clear();
            _controlBytes = 0;
            _controlCounted = 0;
            deliveries = _deliveries;
        }

        foreach (Delivery d in deliveries)
        {
            d.Close();
        }

        _signal.Set();
    }
}
