using System.Runtime.CompilerServices;
using SocketCam.Diagnostics;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Rooms;

/// <summary>
/// How one kind of v1 viewer puts items on its wire: the only thing a transport supplies to a <see cref="ViewerFeed"/>.
/// Each method is called only from the feed's send loop, one at a time, so the writer is its connection's only writer.
/// </summary>
public interface IViewerWriter
{
    /// <summary>
    /// Writes one frame (the feed releases it afterwards). Returns the bytes that went out (counted with the frame), 0
    /// when the frame was skipped (not counted: a codec this transport cannot carry, a frame too large for it), or
    /// <see cref="ViewerFeed.Stop"/> when the writer is done (the peer is gone, or it wanted one frame only).
    /// </summary>
    ValueTask<int> WriteFrameAsync(MediaFrame frame, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the room's signal state. Transports that cannot say "no signal" (MJPEG, seed) keep this default: their
    /// clients simply get no frames until the source is back.
    /// </summary>
    ValueTask WriteSignalAsync(SignalMessage signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Writes a control message queued with <see cref="ViewerFeed.EnqueueControl"/> or <see cref="ViewerFeed.ReplaceControl"/>.</summary>
    ValueTask WriteControlAsync(byte[] message, CancellationToken cancellationToken) =>
        throw new NotSupportedException("This viewer queues no control messages.");

    /// <summary>
    /// Writes one audio packet (feeds with <see cref="ViewerFeed.EnableAudio"/> only: UDP). Returns the bytes that went
    /// out, 0 when it was skipped. Audio goes out ahead of the frame and is never held back by the frame's flow control.
    /// </summary>
    internal ValueTask<int> WriteAudioAsync(MediaFrame packet, CancellationToken cancellationToken) => new(0);

    /// <summary>
    /// Runs each time the send loop wakes, before a frame is taken: transport work between frames (UDP: resending what
    /// was NACKed), and whether a frame may be taken now (UDP flow control). When not, the frame stays in the slot,
    /// where a newer one replaces it, and the writer calls <see cref="ViewerFeed.Wake"/> once one may go.
    /// </summary>
    internal ValueTask<bool> BeforeFrameAsync(CancellationToken cancellationToken) => new(true);
}

/// <summary>Why <see cref="ViewerFeed.RunAsync(CancellationToken, CancellationToken)"/> returned.</summary>
public enum FeedEnd
{
    /// <summary>The feed was finished (<see cref="ViewerFeed.Finish"/>, a farewell, a control overflow) and what was queued went out, or the writer returned <see cref="ViewerFeed.Stop"/>.</summary>
    Finished,

    /// <summary>The wait token was cancelled between writes: nothing is half-written, a clean close may follow.</summary>
    Cancelled,

    /// <summary>One write took longer than the send timeout (the peer stopped reading); the wire may hold half an item.</summary>
    Stalled,
}

/// <summary>
/// The delivery core every v1 viewer shares (TCP/Unix, UDP, seed, MJPEG, WebSocket, the preview window, a snapshot):
/// the room's one-frame <see cref="VideoSlot"/> (newest wins, skips counted), the wake signal, the
/// <see cref="SendCounters"/>, the newest-only pending SIGNAL, the control queue with its farewell, and the send loop
/// (take → write → release → count) that makes the transport's <see cref="IViewerWriter"/> its connection's only writer.
/// A transport supplies only how to write one item; so each rule below is kept once, for every kind of viewer:
/// <list type="bullet">
/// <item>the frame is taken before the control messages are flushed, so whatever was queued before it was offered (the
/// SIGNAL live that a frame after a no-signal brings) goes out ahead of it;</item>
/// <item>a signal change not yet sent is replaced, never queued behind (a viewer that does not read cannot grow this),
/// and keeps the place in the control queue of the first unsent change, so it still precedes a farewell queued after it;</item>
/// <item>after a farewell (ERROR, GOODBYE) nothing more is queued, signals included, and no frame follows it;</item>
/// <item>the send timeout is armed only while an item is going out: an idle gap (a source that is down) is no stall.</item>
/// </list>
/// Without a writer (<see cref="ViewerFeed()"/>) it is a pull feed: a render thread takes frames itself, woken through
/// <see cref="SetWake"/>.
/// </summary>
public sealed class ViewerFeed : IRoomViewer
{
    /// <summary>What <see cref="IViewerWriter.WriteFrameAsync"/> returns when the writer is done.</summary>
    public const int Stop = -1;

    /// <summary>Control messages that may wait (a client that pings faster than it reads its answers overflows this).</summary>
    internal const int MaxQueuedControlMessages = 32;

    private readonly IViewerWriter? _writer;
    private readonly TimeSpan? _sendTimeout;
    private readonly AsyncSignal _signal = new();
    private readonly SendCounters _counters = new();
    private readonly Lock _lock = new();

    // Under _lock. A null entry is the pending signal's place in the queue (its message is _pendingSignal).
    private readonly Queue<byte[]?> _control = new();
    private int _controlMessages;
    private SignalMessage? _pendingSignal;
    private byte[]? _latestControl;
    private long _signalSentMicros;
    private bool _farewell;
    private bool _finishing;

    private volatile string? _signalReason;
    private volatile Action? _onWake;
    private AudioFifo? _audio;
    private long _audioSent;

    /// <summary>A feed whose send loop writes through <paramref name="writer"/> (add it to a room as a viewer, then run it).</summary>
    /// <param name="writer">Writes the items; the feed's <see cref="RunAsync(CancellationToken, CancellationToken)"/> calls it.</param>
    /// <param name="sendTimeout">The longest one write may take before the viewer counts as stalled; null for none.</param>
    public ViewerFeed(IViewerWriter writer, TimeSpan? sendTimeout = null)
    {
        _writer = writer;
        _sendTimeout = sendTimeout;
        Slot = new VideoSlot(Wake);
    }

    /// <summary>A pull feed (the preview window): no send loop; its taker is woken through <see cref="SetWake"/>.</summary>
    internal ViewerFeed()
    {
        Slot = new VideoSlot(Wake);
    }

    /// <summary>Where the room offers this viewer its frames.</summary>
    public VideoSlot Slot { get; }

    /// <summary>The counters themselves, for a v2 session that takes over the connection and goes on counting.</summary>
    internal SendCounters Counters => _counters;

    /// <summary>Frames written to the viewer.</summary>
    public long FramesSent => _counters.FramesSent;

    internal long BytesSent => _counters.BytesSent;

    /// <summary>Frames replaced in the slot before they were taken (the viewer skipped to a newer one).</summary>
    public long Dropped => Slot.Dropped;

    /// <summary>Frames sent per second over the last <see cref="RateMeter.Window"/>.</summary>
    internal double PerSecond => _counters.PerSecond;

    /// <summary>Capture → written of the last frame (µs, on the hub's clock), or -1 before the first.</summary>
    internal long LastLatencyMicros => _counters.LastLatencyMicros;

    /// <summary>Why there is no signal (possibly empty), or null while live. Safe to read from any thread.</summary>
    internal string? SignalReason => _signalReason;

    /// <summary>Audio packets written (feeds with <see cref="EnableAudio"/>).</summary>
    internal long AudioPacketsSent => Interlocked.Read(ref _audioSent);

    /// <summary>Audio packets dropped because 10 were already waiting (the viewer's path is slower than the sound).</summary>
    internal long AudioDropped => _audio?.Dropped ?? 0;

    /// <summary>Before the feed joins a room: it also carries the sound of the participant it watches (an <see cref="AudioFifo"/>, 200 ms).</summary>
    internal void EnableAudio() => _audio = new AudioFifo(Wake);

    /// <summary>Queues an audio packet (a reference is taken), when this feed carries sound; called on the publisher's path.</summary>
    internal void OfferAudio(MediaFrame packet) => _audio?.Offer(packet);

    /// <summary>Pull feeds: what to call (from the producer's thread, never blocking) when a frame or a signal change is there.</summary>
    internal void SetWake(Action wake) => _onWake = wake;

    /// <summary>Wakes the send loop (or the pull feed's taker): a transport's own reason to look again (UDP: a NACK, a DONE).</summary>
    internal void Wake()
    {
        if (_onWake is { } wake)
        {
            wake();
        }
        else
        {
            _signal.Set();
        }
    }

    /// <summary>
    /// Records the room's newest signal state for the send loop, which writes it before the next frame. Called under the
    /// room's lock: records and wakes, nothing more.
    /// </summary>
    public void OnSignal(SignalMessage message)
    {
        _signalReason = message.Live ? null : message.Text;
        if (_writer is not null)
        {
            lock (_lock)
            {
                if (_farewell)
                {
                    return;
                }

                QueueSignalLocked(message);
            }
        }

        Wake();
    }

    /// <summary>
    /// Says a no-signal state again when nothing was said for <paramref name="afterMicros"/> (UDP: datagrams get lost).
    /// Does nothing while live, while a signal is pending, or after a farewell.
    /// </summary>
    internal void RepeatNoSignal(long nowMicros, long afterMicros)
    {
        if (_signalReason is not { } reason)
        {
            return;
        }

        lock (_lock)
        {
            if (_farewell || _pendingSignal is not null || nowMicros - _signalSentMicros <= afterMicros)
            {
                return;
            }

            QueueSignalLocked(new SignalMessage(false, reason));
        }

        Wake();
    }

    /// <summary>
    /// Queues a control message, sent in order ahead of the next frame. After a <paramref name="farewell"/> (ERROR,
    /// GOODBYE) nothing more is queued (later messages are dropped: the connection is closing) and no frame follows.
    /// Returns false only when the queue overflowed (<see cref="MaxQueuedControlMessages"/> wait already): then the feed
    /// finishes, and the owner ends the connection.
    /// </summary>
    public bool EnqueueControl(byte[] message, bool farewell = false)
    {
        bool queued;
        lock (_lock)
        {
            if (_farewell)
            {
                return true;
            }

            queued = _controlMessages < MaxQueuedControlMessages;
            if (queued)
            {
                _control.Enqueue(message);
                _controlMessages++;
                _farewell = farewell;
                _finishing |= farewell;
            }
            else
            {
                _finishing = true;
            }
        }

        _signal.Set();
        return queued;
    }

    /// <summary>
    /// A control message of which only the newest matters (a WebSocket pong): replaces one not yet sent, never queues
    /// behind it, so a peer that floods cannot grow anything. Goes out after the queued ones.
    /// </summary>
    public void ReplaceControl(byte[] message)
    {
        lock (_lock)
        {
            if (_farewell)
            {
                return;
            }

            _latestControl = message;
        }

        _signal.Set();
    }

    /// <summary>No more frames: the send loop writes what is queued and returns <see cref="FeedEnd.Finished"/>.</summary>
    internal void Finish()
    {
        lock (_lock)
        {
            _finishing = true;
        }

        _signal.Set();
    }

    /// <summary>The viewer is gone for good: the waiting frame is released, later offers are refused, nothing more is sent.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _finishing = true;
            _farewell = true;
            _control.Clear();
            _controlMessages = 0;
            _pendingSignal = null;
            _latestControl = null;
        }

        Slot.Close();
        _audio?.Close();
        _signal.Set();
    }

    /// <inheritdoc cref="RunAsync(CancellationToken, CancellationToken)"/>
    public Task<FeedEnd> RunAsync(CancellationToken cancellationToken) => RunAsync(cancellationToken, cancellationToken);

    /// <summary>
    /// The send loop: waits for a frame, a signal change or a control message, and writes them through the writer until
    /// the feed is finished, <paramref name="waitToken"/> is cancelled while waiting, or a write stalls. A write's own
    /// failure (a disconnect, <paramref name="writeToken"/> cancelled mid-write) is thrown for the transport to classify.
    /// </summary>
    /// <param name="waitToken">Ends the loop between writes (the peer left, the server stops).</param>
    /// <param name="writeToken">Aborts a write in progress (and the send timeout is linked to it).</param>
    public async Task<FeedEnd> RunAsync(CancellationToken waitToken, CancellationToken writeToken)
    {
        IViewerWriter writer = _writer ?? throw new InvalidOperationException("A pull feed has no send loop.");
        using CancellationTokenSource? stall = _sendTimeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(writeToken);
        CancellationToken token = stall?.Token ?? writeToken;
        try
        {
            while (true)
            {
                try
                {
                    await _signal.WaitAsync(waitToken);
                }
                catch (OperationCanceledException) when (waitToken.IsCancellationRequested)
                {
                    return FeedEnd.Cancelled;
                }

                // Take the frame before flushing: whatever was queued before it was offered then goes out ahead of it.
                MediaFrame? frame = !IsFinishing && await writer.BeforeFrameAsync(writeToken) ? Slot.Take() : null;
                try
                {
                    if (await FlushControlAsync(writer, stall, token))
                    {
                        return FeedEnd.Finished;
                    }

                    // Sound first: a packet is small and late sound is worse than a late picture.
                    while (_audio?.Take() is { } packet)
                    {
                        try
                        {
                            Arm(stall);
                            int sent = await writer.WriteAudioAsync(packet, token);
                            Disarm(stall);
                            if (sent > 0)
                            {
                                Interlocked.Increment(ref _audioSent);
                            }
                        }
                        finally
                        {
                            packet.Release();
                        }
                    }

                    if (frame is null)
                    {
                        continue;
                    }

                    Arm(stall);
                    int written = await writer.WriteFrameAsync(frame, token);
                    Disarm(stall);
                    if (written == Stop)
                    {
                        return FeedEnd.Finished;
                    }

                    if (written > 0)
                    {
                        _counters.OnSent(written, Clock.NowMicros() - frame.Header.CaptureMicros);
                    }
                }
                finally
                {
                    frame?.Release();
                }
            }
        }
        catch (OperationCanceledException) when (stall is { IsCancellationRequested: true } && !writeToken.IsCancellationRequested)
        {
            return FeedEnd.Stalled;
        }
    }

    private bool IsFinishing
    {
        get
        {
            lock (_lock)
            {
                return _finishing;
            }
        }
    }

    private void QueueSignalLocked(SignalMessage message)
    {
        if (_pendingSignal is null)
        {
            _control.Enqueue(null);
        }

        _pendingSignal = message;
    }

    /// <summary>Writes everything queued, in order, then the newest-only message; returns whether the feed is finishing.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FlushControlAsync(IViewerWriter writer, CancellationTokenSource? stall, CancellationToken token)
    {
        while (true)
        {
            byte[]? message;
            SignalMessage? signal = null;
            bool finishing;
            lock (_lock)
            {
                if (_control.TryDequeue(out message))
                {
                    if (message is null)
                    {
                        (signal, _pendingSignal) = (_pendingSignal, null);
                        _signalSentMicros = Clock.NowMicros();
                    }
                    else
                    {
                        _controlMessages--;
                    }
                }
                else
                {
                    (message, _latestControl) = (_latestControl, null);
                }

                finishing = _finishing;
            }

            if (signal is { } s)
            {
                Arm(stall);
                await writer.WriteSignalAsync(s, token);
                Disarm(stall);
            }
            else if (message is not null)
            {
                Arm(stall);
                await writer.WriteControlAsync(message, token);
                Disarm(stall);
            }
            else
            {
                return finishing;
            }
        }
    }

    private void Arm(CancellationTokenSource? stall)
    {
        if (stall is not null)
        {
            stall.CancelAfter(_sendTimeout!.Value);
        }
    }

    private static void Disarm(CancellationTokenSource? stall) => stall?.CancelAfter(Timeout.InfiniteTimeSpan);
}
