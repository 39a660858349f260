namespace SocketCam.Hub;

/// <summary>
/// A one-frame mailbox for a viewer: a new frame replaces the one still waiting (which counts as dropped),
/// so a slow viewer skips to the newest frame and never grows a queue or holds back the others.
/// </summary>
internal sealed class LatestFrameSlot
{
    private readonly Action _wake;
    private SharedFrame? _frame;
    private long _dropped;
    private long _offered;
    private bool _closed;

    public LatestFrameSlot(AsyncSignal signal)
        : this(signal.Set)
    {
    }

    /// <summary>A slot whose taker is not an async sender (a window's render thread): <paramref name="wake"/> runs after each offer and must not block.</summary>
    public LatestFrameSlot(Action wake)
    {
        _wake = wake;
    }

    /// <summary>
    /// Called whenever a frame is taken out (set by <see cref="Room.AddViewer"/>, so no kind of viewer can forget to tell
    /// an unpaced capture that it is ready for the next frame). Must not block.
    /// </summary>
    public Action? Taken { get; set; }

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Offered => Interlocked.Read(ref _offered);

    public bool IsFull => Volatile.Read(ref _frame) is not null;

    /// <summary>Takes a reference to <paramref name="frame"/> and wakes the sender.</summary>
    public void Offer(SharedFrame frame)
    {
        frame.AddRef();
        Interlocked.Increment(ref _offered);
        SharedFrame? previous = Interlocked.Exchange(ref _frame, frame);
        if (previous is not null)
        {
            Interlocked.Increment(ref _dropped);
            previous.Release();
        }

        if (Volatile.Read(ref _closed))
        {
            // The viewer left while this frame was offered: nobody will take it, so give its reference back now.
            Take()?.Release();
            return;
        }

        _wake();
    }

    /// <summary>Takes the waiting frame (the caller now owns its reference), or null.</summary>
    public SharedFrame? Take()
    {
        SharedFrame? frame = Interlocked.Exchange(ref _frame, null);
        if (frame is not null)
        {
            Taken?.Invoke();
        }

        return frame;
    }

    /// <summary>Drops whatever is waiting (the viewer is leaving).</summary>
    public void Clear() => Take()?.Release();

    /// <summary>Drops whatever is waiting, and every frame offered from now on (the viewer is gone for good).</summary>
    public void Close()
    {
        Volatile.Write(ref _closed, true);
        Clear();
    }
}
