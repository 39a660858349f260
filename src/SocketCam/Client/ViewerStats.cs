using SocketCam.Media;
using SocketCam.Codecs;
using SocketCam.Diagnostics;

namespace SocketCam.Client;

/// <summary>What a viewer measured; safe to read from another thread while it runs.</summary>
public sealed class ViewerStats
{
    private readonly LatencyRecorder _latency = new();
    private long _frames;
    private long _bytes;
    private long _dropped;
    private long _corrupt;
    private long _firstFrameTicks;
    private long _lastFrameTicks;
    private int _reconnects;
    private long _noSignalEvents;

    // Null while live: one reference, so state and reason always agree for a reader on another thread.
    private volatile string? _noSignalReason;

    public long Frames => Interlocked.Read(ref _frames);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Frames the hub skipped for this viewer (gaps in the sequence numbers).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Frames that failed to decode or verify.</summary>
    public long Corrupt => Interlocked.Read(ref _corrupt);

    public int Reconnects => Volatile.Read(ref _reconnects);

    /// <summary>
    /// False while the hub reports that the room's source is down (SIGNAL); true at first and once it is back.
    /// Kept across reconnects: a hub that still has no signal says so again right after WELCOME.
    /// </summary>
    public bool SignalLive => _noSignalReason is null;

    /// <summary>Why there is no signal (possibly empty), or null while live.</summary>
    public string? SignalReason => _noSignalReason;

    /// <summary>How often the signal was lost (changes from live to no signal).</summary>
    public long NoSignalEvents => Interlocked.Read(ref _noSignalEvents);

    public int Width { get; private set; }

    public int Height { get; private set; }

    public CodecId? Codec { get; private set; }

    public double RttMilliseconds { get; internal set; }

    /// <summary>UDP only: loss and recovery on the link, all sessions so far (null over TCP).</summary>
    public Udp.UdpLinkStats? Link => _link is null ? null : (_linkPast ?? new Udp.UdpLinkStats()).Add(_link);

    private volatile Udp.UdpLinkStats? _link;
    private Udp.UdpLinkStats? _linkPast;

    /// <summary>The current UDP session's link figures (cumulative for that session).</summary>
    internal void OnLink(Udp.UdpLinkStats session) => _link = session;

    /// <summary>A UDP session ended: its figures move to the totals of past sessions.</summary>
    internal void EndLinkSession()
    {
        if (_link is { } last)
        {
            _linkPast = (_linkPast ?? new Udp.UdpLinkStats()).Add(last);
            _link = new Udp.UdpLinkStats();
        }
    }

    /// <summary>Average frames per second from the first frame to the last.</summary>
    public double Fps
    {
        get
        {
            long frames = Frames;
            long first = Interlocked.Read(ref _firstFrameTicks);
            long last = Interlocked.Read(ref _lastFrameTicks);
            if (frames < 2 || last <= first)
            {
                return 0;
            }

            return (frames - 1) / TimeSpanFromTicks(last - first).TotalSeconds;
        }
    }

    public LatencySummary Latency => _latency.Summarize();

    /// <summary>A pause between two shown frames longer than this is a freeze (30 fps video shows one every 33 ms).</summary>
    public static readonly TimeSpan FreezeThreshold = TimeSpan.FromMilliseconds(100);

    /// <summary>The sum of the pauses between shown frames longer than <see cref="FreezeThreshold"/> (each counted whole).</summary>
    public TimeSpan FreezeTime => TimeSpanFromTicks(Interlocked.Read(ref _freezeTicks));

    /// <summary>How many pauses between shown frames were longer than <see cref="FreezeThreshold"/>.</summary>
    public long Freezes => Interlocked.Read(ref _freezes);

    public TimeSpan LongestFreeze => TimeSpanFromTicks(Interlocked.Read(ref _longestFreezeTicks));

    /// <summary>
    /// The publisher's frames from the first shown to the last shown (by sequence number): what <see cref="Frames"/> is a
    /// share of. 0 before two frames, or when the sequence went backwards (the source restarted).
    /// </summary>
    public long SequenceSpan => Interlocked.Read(ref _lastSequence) is var last && Interlocked.Read(ref _firstSequence) is var first && last >= first && first >= 0 ? last - first + 1 : 0;

    private long _freezeTicks;
    private long _freezes;
    private long _longestFreezeTicks;
    private long _firstSequence = -1;
    private long _lastSequence = -1;

    /// <summary>False when the sender gives no capture times (the seed format): there is no latency to show.</summary>
    public bool MeasuresLatency => _latency.Count > 0;

    /// <param name="latencyMs">Capture to decoded, or null when the sender gives no capture time (the seed format).</param>
    /// <param name="sequence">The frame's sequence number (the share of the publisher's frames shown is measured by it).</param>
    internal void OnFrame(int width, int height, CodecId codec, long bytes, long skipped, double? latencyMs, long sequence = -1)
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        _noPublisher = null;
        if (Interlocked.Increment(ref _frames) == 1)
        {
            Interlocked.Exchange(ref _firstFrameTicks, now);
            Interlocked.Exchange(ref _firstSequence, sequence);
        }
        else if (now - Interlocked.Read(ref _lastFrameTicks) is var pause && pause > FreezeThreshold.TotalSeconds * System.Diagnostics.Stopwatch.Frequency)
        {
            // Frozen picture: the viewer kept showing the last frame for the whole pause.
            Interlocked.Add(ref _freezeTicks, pause);
            Interlocked.Increment(ref _freezes);
            if (pause > Interlocked.Read(ref _longestFreezeTicks))
            {
                Interlocked.Exchange(ref _longestFreezeTicks, pause);
            }
        }

        Interlocked.Exchange(ref _lastSequence, sequence);
        Interlocked.Exchange(ref _lastFrameTicks, now);
        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Add(ref _dropped, skipped);
        Width = width;
        Height = height;
        Codec = codec;
        if (latencyMs is { } latency)
        {
            _latency.Record(latency);
        }
    }

    internal void ResetLatency() => _latency.Reset();

    /// <summary>Applies a signal state; returns false when nothing changed. Called only by the receive loop.</summary>
    internal bool OnSignal(bool live, string reason)
    {
        string? current = _noSignalReason;
        if (live ? current is null : string.Equals(current, reason, StringComparison.Ordinal))
        {
            return false;
        }

        if (!live && current is null)
        {
            Interlocked.Increment(ref _noSignalEvents);
        }

        _noSignalReason = live ? null : reason;
        return true;
    }

    internal void OnCorrupt() => Interlocked.Increment(ref _corrupt);

    /// <summary>An H.264 frame that could not be shown because the decoder waits for a keyframe (not an error).</summary>
    internal void OnWaitingForKeyframe() => Interlocked.Increment(ref _waitingForKeyframe);

    /// <summary>H.264 frames skipped while waiting for a keyframe.</summary>
    public long WaitingForKeyframe => Interlocked.Read(ref _waitingForKeyframe);

    private long _waitingForKeyframe;

    /// <summary>While the viewer is not connected and waits to try again: why and when (for the status line); null once connected.</summary>
    public RetryState? Retry => _retry;

    private volatile RetryState? _retry;

    internal void OnRetry(string reason, TimeSpan delay)
    {
        Interlocked.Increment(ref _reconnects);
        _retry = new RetryState(reason, DateTime.UtcNow + delay, Reconnects);
    }

    /// <summary>
    /// Set while connected to a room that has no publisher (the hub's room list says so): what the status line shows
    /// instead of "waiting for frames"; cleared by the first frame.
    /// </summary>
    public string? NoPublisher
    {
        get => _noPublisher;
        internal set => _noPublisher = value;
    }

    private volatile string? _noPublisher;

    /// <summary>A session is up: no retry to show any more.</summary>
    internal void OnConnected() => _retry = null;

    private static TimeSpan TimeSpanFromTicks(long stopwatchTicks) =>
        TimeSpan.FromSeconds(stopwatchTicks / (double)System.Diagnostics.Stopwatch.Frequency);
}

/// <summary>Why the viewer is not connected, when it tries again (UTC) and how many times it has tried.</summary>
public sealed record RetryState(string Reason, DateTime NextAttempt, int Attempts);
