using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Rooms;

/// <summary>Something that watches a room: a native TCP viewer today, WebSocket and MJPEG clients later.</summary>
/// <summary>A v1 viewer of a room (every transport's, the web's included): the room offers it frames through its slot and tells it the signal state.</summary>
public interface IRoomViewer
{
    /// <summary>Where the room puts the newest frame for this viewer (one waits; a newer one replaces it).</summary>
    VideoSlot Slot { get; }

    /// <summary>
    /// The room's signal state changed (or the viewer just joined a room without signal). Called under the room's
    /// lock, so changes arrive in order: only record the message and wake the sender, never block or send here.
    /// </summary>
    void OnSignal(SignalMessage message);

    /// <summary>
    /// Takes an H.264 primary track as it is (a UDP viewer or a watch page with WebCodecs that asked for it;
    /// docs/H264.md): its slot then skips to keyframes. Every other viewer gets the room's one JPEG transcoding of it.
    /// Fixed for the viewer's lifetime.
    /// </summary>
    bool AcceptsH264 => false;
}

/// <summary>
/// A v1 viewer whose transport carries sound (UDP): besides its video slot it is offered every packet of the audio that
/// goes with the primary track (its participant's first Opus track). Called on the publisher's path: queue and wake only.
/// </summary>
internal interface IRoomAudioViewer
{
    void OfferAudio(MediaFrame frame);
}

/// <summary>
/// Something that must see every frame of a room, in order (a recorder). Unlike a viewer it never skips: the publisher
/// awaits <see cref="OfferAsync"/>, so a recorder that falls behind slows the source down instead of losing frames.
/// </summary>
internal interface IRoomRecorder
{
    /// <summary>Takes its own reference to <paramref name="frame"/>; completes once the recorder has room for it.</summary>
    ValueTask OfferAsync(MediaFrame frame, CancellationToken cancellationToken);

    /// <summary>
    /// The room's recorded audio track changed: its Opus channels (1 or 2), or 0 when there is none. Called under the
    /// room's lock before any frame of the new track is offered: only record the value.
    /// </summary>
    void SetAudio(int channels);
}

/// <summary>
/// A named stream: at most one publisher (the hub's own capture or a remote `publish`) and any number of viewers.
/// Fan-out hands each viewer a reference to the same <see cref="MediaFrame"/>; nothing is copied or queued.
/// Recorders get every frame through their own bounded queue, and the publisher waits for them (<see cref="PublishAsync"/>).
/// </summary>
public sealed partial class Room : IDisposable
{
    private readonly Lock _lock = new();
    private readonly AsyncSignal _viewersChanged = new();
    private readonly AsyncSignal _taken = new();
    private readonly Timer _takenTimeout;
    private readonly ILogger _logger;
    private IRoomViewer[] _viewers = [];
    private IRoomRecorder[] _recorders = [];
    private readonly Lock _latestLock = new();
    private object? _publisher;
    private long _framesPublished;
    private MediaFrame? _latest;
    private PrimaryTranscoder? _transcoder;
    private bool _disposed;

    // Null while live; written under _lock, read without it (one reference: state and reason always agree).
    private volatile string? _noSignalReason;

    internal Room(string name, ILogger? logger = null)
    {
        Name = name;
        _logger = logger ?? NullLogger.Instance;
        // One timer reused for every bounded wait, so unpaced capture allocates nothing per frame.
        _takenTimeout = new Timer(static s => ((AsyncSignal)s!).Set(), _taken, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>The room's name (<see cref="RoomName"/>'s rules).</summary>
    public string Name { get; }

    /// <summary>References taken by the hub's GetOrCreateRoom; only touched under the hub's rooms lock.</summary>
    internal int References { get; set; }

    /// <summary>v1 viewers watching now, of every transport.</summary>
    public int ViewerCount => Volatile.Read(ref _viewers).Length;

    /// <summary>The v1 viewers now (`/api/rooms` counts them by kind).</summary>
    public IReadOnlyList<IRoomViewer> Viewers => Volatile.Read(ref _viewers);

    /// <summary>Recorders of this room now.</summary>
    public int RecorderCount => Volatile.Read(ref _recorders).Length;

    /// <summary>Someone needs the v1 seat's frames: a v1 viewer, a recorder, or a subscriber of the seat's track (capture pauses while nobody does).</summary>
    internal bool HasAudience => ViewerCount > 0 || RecorderCount > 0 || SeatHasSubscribers();

    /// <summary>Whether the v1 publisher seat is taken (the hub's capture, or a publisher of any transport).</summary>
    public bool HasPublisher => Volatile.Read(ref _publisher) is not null;

    /// <summary>Frames published into the room since it was created.</summary>
    public long FramesPublished => Interlocked.Read(ref _framesPublished);

    /// <summary>
    /// The newest published frame with a reference for the caller (who releases it), or null before the first frame.
    /// The room keeps its own reference to the last frame until a newer one replaces it or the room is disposed.
    /// </summary>
    public MediaFrame? AcquireLatestFrame()
    {
        lock (_latestLock)
        {
            _latest?.AddRef();
            return _latest;
        }
    }

    /// <summary>What the newest published frame is (size, codec), if there was one.</summary>
    public FrameInfo? LatestHeader
    {
        get
        {
            lock (_latestLock)
            {
                return _latest?.Header;
            }
        }
    }

    /// <summary>False while the source is down (docs/PROTOCOL.md, SIGNAL); a new room starts live.</summary>
    public bool SignalLive => _noSignalReason is null;

    /// <summary>Why there is no signal (possibly empty), or null while live.</summary>
    public string? SignalReason => _noSignalReason;

    /// <summary>
    /// Sets the room's signal state and tells every viewer: false when the source died (with the reason, e.g. ffmpeg's
    /// last error line), true when it is back (a published frame also means that). Thread-safe. Repeating the current
    /// state is a no-op; a new reason while there is still no signal is a change. Returns whether anything changed.
    /// </summary>
    public bool SetSignal(bool live, string reason)
    {
        string text = MessageWriter.Printable(reason).Trim();
        lock (_lock)
        {
            // The v1 seat's SIGNAL is its track's state for v2 participants (§4.12).
            if (_seat?.Tracks.GetValueOrDefault((ushort)1) is { } seatTrack)
            {
                SetTrackStateLocked(seatTrack, live, text);
            }

            string? current = _noSignalReason;
            if (live ? current is null : string.Equals(current, text, StringComparison.Ordinal))
            {
                return false;
            }

            _noSignalReason = live ? null : text;
            var message = new SignalMessage(live, text);
            foreach (IRoomViewer viewer in _viewers)
            {
                viewer.OnSignal(message);
            }
        }

        if (live)
        {
            RoomLog.SignalBack(_logger, Name);
        }
        else
        {
            RoomLog.NoSignal(_logger, Name, text);
        }

        return true;
    }

    /// <summary>Adds a viewer; one that joins while there is no signal is told so before anything else is sent to it.</summary>
    public void AddViewer(IRoomViewer viewer)
    {
        lock (_lock)
        {
            viewer.Slot.Taken = NotifyTaken;
            // Told before it is in the list, so no frame can be offered to it ahead of this message.
            if (_noSignalReason is { } reason)
            {
                viewer.OnSignal(new SignalMessage(false, reason));
            }

            _viewers = [.. _viewers, viewer];
        }

        StartH264For(viewer);
        _viewersChanged.Set();
        _taken.Set(); // a new viewer is ready for a frame: an unpaced stream waiting on the others may go on
    }

    /// <summary>
    /// Adds a viewer that starts with the newest frame there is (a picture at once, even from a slow or stalled source;
    /// a frame published meanwhile is the same or newer, and is kept): MJPEG, WebSocket and UDP viewers.
    /// </summary>
    public void AddViewerWithLatestFrame(IRoomViewer viewer)
    {
        AddViewer(viewer);
        if (!viewer.Slot.IsFull && AcquireLatestFrame() is { } latest)
        {
            viewer.Slot.Offer(latest);
            latest.Release();
        }
    }

    /// <summary>Removes a viewer; the frame waiting in its slot is released.</summary>
    public void RemoveViewer(IRoomViewer viewer)
    {
        lock (_lock)
        {
            _viewers = Array.FindAll(_viewers, v => !ReferenceEquals(v, viewer));
        }

        viewer.Slot.Clear();
        _taken.Set();
    }

    internal void AddRecorder(IRoomRecorder recorder)
    {
        lock (_lock)
        {
            recorder.SetAudio(RecordedAudioChannelsLocked());
            _recorders = [.. _recorders, recorder];
        }

        _viewersChanged.Set();
    }

    internal void RemoveRecorder(IRoomRecorder recorder)
    {
        lock (_lock)
        {
            _recorders = Array.FindAll(_recorders, r => !ReferenceEquals(r, recorder));
        }
    }

    /// <summary>Claims the room's single v1 publisher seat for <paramref name="owner"/> (a participant named "v1 publisher").</summary>
    internal bool TryClaimPublisher(object owner) => TryClaimPublisher(owner, "v1 publisher", ParticipantTransport.Other);

    /// <summary>
    /// Publishes a frame without waiting for recorders (tests and benchmarks; sources use <see cref="PublishAsync(MediaFrame, CancellationToken)"/>).
    /// The caller keeps (and later releases) its own reference.
    /// </summary>
    internal void Publish(MediaFrame frame)
    {
        ValueTask published = PublishAsync(frame, CancellationToken.None);
        if (!published.IsCompleted)
        {
            published.AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// A v1 seat's frame (the hub's capture, a v1 publisher over TCP, UDP or WebSocket): a frame of the seat's track,
    /// which is published at its first frame. Without a seat (tests), straight to v1 viewers and recorders.
    /// </summary>
    public ValueTask PublishAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        if (SeatTrack(frame.Header) is { } track)
        {
            return PublishAsync(track, frame, cancellationToken);
        }

        FrameFraming.Stamp(frame, frame.Header.Sequence);
        return PublishToV1Async(frame, cancellationToken);
    }

    /// <summary>
    /// Offers a primary-track frame to every v1 viewer (they skip to the newest), then waits until every recorder has
    /// queued it: a recorder that cannot keep up holds the publisher back (back-pressure to the source) and never loses a
    /// frame. A frame after a no-signal means the source is back: viewers are told (SIGNAL live) before the frame reaches them.
    /// </summary>
    private ValueTask PublishToV1Async(MediaFrame frame, CancellationToken cancellationToken)
    {
        if (_noSignalReason is not null)
        {
            SetSignal(true, "");
        }

        Interlocked.Increment(ref _framesPublished);
        if (frame.Header.Codec == CodecId.H264)
        {
            OfferH264(frame);
        }
        else
        {
            KeepLatest(frame);
            foreach (IRoomViewer viewer in Volatile.Read(ref _viewers))
            {
                viewer.Slot.Offer(frame);
            }
        }

        return OfferToRecordersAsync(frame, cancellationToken);
    }

    /// <summary>
    /// An H.264 primary frame: as it is to the viewers that take H.264 (keyframe-aware; one keyframe request for all that
    /// lost one), and to the transcoder while any viewer needs JPEG. Without such a viewer the transcoder sleeps and the
    /// room keeps no picture (an old one would be no snapshot of now).
    /// </summary>
    private void OfferH264(MediaFrame frame)
    {
        bool needJpeg = false;
        bool needKeyframe = false;
        foreach (IRoomViewer viewer in Volatile.Read(ref _viewers))
        {
            if (viewer.AcceptsH264)
            {
                needKeyframe |= viewer.Slot.Offer(frame) == SlotOffer.DroppedNeedKeyframe;
            }
            else
            {
                needJpeg = true;
            }
        }

        if (Volatile.Read(ref _transcoder) is { } transcoder)
        {
            transcoder.Active = needJpeg;
            transcoder.Offer(frame);
        }

        if (!needJpeg)
        {
            DropLatest();
        }

        if (needKeyframe)
        {
            RequestPrimaryKeyframe(reason: 2);
        }
    }

    /// <summary>The transcoder's JPEG of an H.264 primary frame, for every viewer that needs JPEG (on the transcoder's task).</summary>
    private void DeliverTranscoded(MediaFrame jpeg)
    {
        FrameFraming.Stamp(jpeg, jpeg.Header.Sequence);
        KeepLatest(jpeg);
        foreach (IRoomViewer viewer in Volatile.Read(ref _viewers))
        {
            if (!viewer.AcceptsH264)
            {
                viewer.Slot.Offer(jpeg);
            }
        }
    }

    /// <summary>A new viewer of an H.264 primary: a keyframe for it (its slot waits for one), or the transcoder woken.</summary>
    private void StartH264For(IRoomViewer viewer)
    {
        if (Volatile.Read(ref _primary) is not { Description.Codec: CodecId.H264 })
        {
            return;
        }

        if (viewer.AcceptsH264)
        {
            viewer.Slot.RequireKeyframe();
            RequestPrimaryKeyframe(reason: 1);
        }
        else if (Volatile.Read(ref _transcoder) is { } transcoder)
        {
            transcoder.Active = true;
        }
    }

    /// <summary>The H.264 → JPEG transcoder (null until an H.264 track was primary).</summary>
    internal PrimaryTranscoder? Transcoder => Volatile.Read(ref _transcoder);

    private void RequestPrimaryKeyframe(byte reason) => Volatile.Read(ref _primary)?.Keyframes.Request(reason);

    /// <summary>
    /// The transcoder is made when an H.264 track first becomes primary, and put to sleep at every change of primary (its
    /// decoder then starts again at a keyframe).
    /// </summary>
    private void PrimaryCodecChangedLocked(Track? primary)
    {
        if (primary is { Description.Codec: CodecId.H264 } && _transcoder is null && !_disposed)
        {
            Volatile.Write(ref _transcoder, new PrimaryTranscoder(DeliverTranscoded, () => RequestPrimaryKeyframe(reason: 1), _logger));
        }

        if (_transcoder is { } transcoder)
        {
            transcoder.Active = false;
        }

        if (primary is { Description.Codec: CodecId.H264 })
        {
            // Another stream from now on: what a viewer holds is no reference for it (AfterPrimaryChange asks for a keyframe).
            foreach (IRoomViewer viewer in _viewers)
            {
                if (viewer.AcceptsH264)
                {
                    viewer.Slot.RequireKeyframe();
                }
            }
        }
    }

    /// <summary>Waits until every recorder has queued the frame (a video frame of the primary track, or a packet of its owner's audio).</summary>
    private ValueTask OfferToRecordersAsync(MediaFrame frame, CancellationToken cancellationToken)
    {
        IRoomRecorder[] recorders = Volatile.Read(ref _recorders);
        return recorders.Length switch
        {
            0 => ValueTask.CompletedTask,
            1 => recorders[0].OfferAsync(frame, cancellationToken),
            _ => OfferToAllAsync(recorders, frame, cancellationToken),
        };
    }

    private bool SeatHasSubscribers()
    {
        lock (_lock)
        {
            return _seat is { } seat && seat.Tracks.Values.Any(t => t.SubscriberCount > 0);
        }
    }

    /// <summary>A viewer's sender took its frame (unpaced capture waits for that before encoding the next); every slot of the room calls it.</summary>
    internal void NotifyTaken() => _taken.Set();

    /// <summary>Returns once the room has a viewer or a recorder: capture and encoding pause while nobody needs frames.</summary>
    internal async ValueTask WaitForViewersAsync(CancellationToken cancellationToken)
    {
        while (!HasAudience)
        {
            await _viewersChanged.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Waits until every viewer's sender has taken the last frame, or <paramref name="limit"/> passed and some viewer is
    /// ready for another (so one stalled viewer cannot stop an unpaced stream for the others). While every viewer still
    /// has a frame waiting, a new one would only replace it: the wait goes on, so an unpaced source produces no faster
    /// than its fastest viewer takes frames (no work thrown away, no CPU taken from a slow viewer on the same machine).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask WaitUntilTakenAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        bool armed = false;
        try
        {
            while (AnyWaiting())
            {
                long remaining = deadline - Environment.TickCount64;
                if (remaining <= 0 && AnyReady())
                {
                    return;
                }

                if (!armed && remaining > 0)
                {
                    _takenTimeout.Change(remaining, Timeout.Infinite);
                    armed = true;
                }

                await _taken.WaitAsync(cancellationToken);
            }
        }
        finally
        {
            if (armed)
            {
                _takenTimeout.Change(Timeout.Infinite, Timeout.Infinite);
            }
        }
    }

    /// <summary>Only the hub disposes a room, when its last reference is given back.</summary>
    void IDisposable.Dispose() => Dispose();

    internal void Dispose()
    {
        _takenTimeout.Dispose();
        PrimaryTranscoder? transcoder;
        lock (_lock)
        {
            _disposed = true; // no new transcoder after this (PrimaryCodecChangedLocked checks it under the same lock)
            transcoder = _transcoder;
            _transcoder = null;
        }

        transcoder?.Dispose();
        MediaFrame? latest;
        lock (_latestLock)
        {
            _disposed = true;
            latest = _latest;
            _latest = null;
        }

        latest?.Release();
    }

    private void DropLatest()
    {
        MediaFrame? previous;
        lock (_latestLock)
        {
            previous = _latest;
            _latest = null;
        }

        previous?.Release();
    }

    private void KeepLatest(MediaFrame frame)
    {
        MediaFrame? previous;
        lock (_latestLock)
        {
            if (_disposed)
            {
                return;
            }

            frame.AddRef();
            previous = _latest;
            _latest = frame;
        }

        previous?.Release();
    }

    private static async ValueTask OfferToAllAsync(IRoomRecorder[] recorders, MediaFrame frame, CancellationToken cancellationToken)
    {
        foreach (IRoomRecorder recorder in recorders)
        {
            await recorder.OfferAsync(frame, cancellationToken);
        }
    }

    /// <summary>Some viewer has taken its frame (or never had one): it can use a new one.</summary>
    private bool AnyReady()
    {
        foreach (IRoomViewer viewer in Volatile.Read(ref _viewers))
        {
            if (!viewer.Slot.IsFull)
            {
                return true;
            }
        }

        return false;
    }

    private bool AnyWaiting()
    {
        foreach (IRoomViewer viewer in Volatile.Read(ref _viewers))
        {
            if (viewer.Slot.IsFull)
            {
                return true;
            }
        }

        return false;
    }
}
