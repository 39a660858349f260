using SocketCam.Media;

namespace SocketCam.Rooms;

/// <summary>What offering a frame to a <see cref="VideoSlot"/> did.</summary>
internal enum SlotOffer
{
    /// <summary>The frame waits in the slot (replacing an older one, which counts as dropped).</summary>
    Stored,

    /// <summary>The frame was dropped: the slot waits for a keyframe (inter-coded video), and needs one asked for.</summary>
    DroppedNeedKeyframe,

    /// <summary>The frame was dropped while a keyframe was already being waited for (asked for before).</summary>
    DroppedWaiting,

    /// <summary>The subscriber is gone.</summary>
    Closed,
}

/// <summary>
/// The video delivery policy of one (subscriber, track): one frame waits, a new one replaces it (newest wins), so a slow
/// subscriber skips to the newest frame and never grows a queue or holds back the others. Keyframe-aware for inter-coded
/// video (docs/PROTOCOL.md §4.9): after a frame was lost to a subscriber, frames that depend on it are dropped until
/// a keyframe, and an undelivered frame is replaced only by a keyframe or when it is droppable. For codecs whose
/// frames are all keyframes (JPEG, raw) that is plain newest-wins.
/// </summary>
public sealed class VideoSlot
{
    private readonly Action _wake;
    private readonly Lock _lock = new();
    private MediaFrame? _frame;
    private long _dropped;
    private long _offered;
    private long _waitingSince;
    private bool _closed;
    private bool _waitingForKeyframe;

    internal VideoSlot(AsyncSignal signal)
        : this(signal.Set)
    {
    }

    /// <summary>A slot whose taker is not an async sender (a window's render thread): <paramref name="wake"/> runs after each offer and must not block.</summary>
    internal VideoSlot(Action wake)
    {
        _wake = wake;
    }

    /// <summary>
    /// Called whenever a frame is taken out (set by <see cref="Room.AddViewer"/>, so no kind of viewer can forget to tell
    /// an unpaced capture that it is ready for the next frame). Must not block.
    /// </summary>
    internal Action? Taken { get; set; }

    internal long Dropped => Interlocked.Read(ref _dropped);

    internal long Offered => Interlocked.Read(ref _offered);

    internal bool IsFull => Volatile.Read(ref _frame) is not null;

    /// <summary>When the waiting frame was offered (Stopwatch ticks), for "the frame that has waited longest goes first".</summary>
    internal long WaitingSince => Volatile.Read(ref _waitingSince);

    /// <summary>From now on only a keyframe is taken (a new subscription to inter-coded video, or the publisher's loss).</summary>
    internal void RequireKeyframe()
    {
        lock (_lock)
        {
            _waitingForKeyframe = true;
        }
    }

    /// <summary>Takes a reference to <paramref name="frame"/> (when stored) and wakes the sender.</summary>
    internal SlotOffer Offer(MediaFrame frame)
    {
        MediaFrame? previous;
        SlotOffer result;
        Interlocked.Increment(ref _offered);
        lock (_lock)
        {
            if (_closed)
            {
                return SlotOffer.Closed;
            }

            bool key = frame.Header.IsKeyframe;
            if (_waitingForKeyframe && !key)
            {
                Interlocked.Increment(ref _dropped);
                return SlotOffer.DroppedWaiting;
            }

            if (_frame is { } waiting && !key && !waiting.Header.IsDroppable)
            {
                // The waiting frame is still decodable; the new one would depend on it after it was replaced.
                _waitingForKeyframe = true;
                Interlocked.Increment(ref _dropped);
                return SlotOffer.DroppedNeedKeyframe;
            }

            _waitingForKeyframe = false;
            frame.AddRef();
            previous = _frame;
            _frame = frame;
            Volatile.Write(ref _waitingSince, System.Diagnostics.Stopwatch.GetTimestamp());
            result = SlotOffer.Stored;
        }

        if (previous is not null)
        {
            Interlocked.Increment(ref _dropped);
            previous.Release();
        }

        _wake();
        return result;
    }

    /// <summary>Takes the waiting frame (the caller now owns its reference), or null.</summary>
    public MediaFrame? Take()
    {
        MediaFrame? frame;
        lock (_lock)
        {
            frame = _frame;
            _frame = null;
        }

        if (frame is not null)
        {
            Taken?.Invoke();
        }

        return frame;
    }

    /// <summary>Drops whatever is waiting (the viewer is leaving).</summary>
    internal void Clear() => Take()?.Release();

    /// <summary>Drops whatever is waiting, and every frame offered from now on (the viewer is gone for good).</summary>
    internal void Close()
    {
        lock (_lock)
        {
            _closed = true;
        }

        Clear();
    }
}
