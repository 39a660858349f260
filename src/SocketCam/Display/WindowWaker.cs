namespace SocketCam.Display;

/// <summary>
/// Wakes a window's render thread from producers that must never wait: <see cref="Wake"/> only sets a flag and signals a
/// monitor (held for nanoseconds, never while pushing); a small thread of its own makes the call that may block (SDL_PushEvent, which in SDL 2.26 writes to the X
/// server and flushes). Wakes are coalesced: after one wake, further ones do nothing until the render thread calls
/// <see cref="Rearm"/> (just before it looks at its feed), so at most one wake is on its way however fast pictures come.
/// A stuck X server then stalls this thread, never a receive loop, a room's fan-out or a caller holding a lock.
/// </summary>
internal sealed class WindowWaker
{
    private readonly Action _push;
    private readonly Thread _thread;
    private readonly object _gate = new(); // a monitor (Wait/Pulse), not a Lock
    private bool _requested; // under _gate
    private bool _stopping;  // under _gate
    private int _pending;

    /// <param name="push">What wakes the render thread (runs on the waker's thread only; may block).</param>
    /// <param name="name">The thread's name.</param>
    public WindowWaker(Action push, string name)
    {
        _push = push;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
    }

    public void Start() => _thread.Start();

    /// <summary>Any thread: makes the waker push one wake, unless one is already on its way. Never blocks.</summary>
    public void Wake()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            Signal(stop: false);
        }
    }

    /// <summary>Render thread: the wake (if any) has been seen; the next <see cref="Wake"/> pushes again.</summary>
    public void Rearm() => Volatile.Write(ref _pending, 0);

    /// <summary>
    /// Ends the waker's thread and waits for it, at most <paramref name="limit"/>; false when it did not end in time (stuck
    /// in a push). Never started: true at once.
    /// </summary>
    public bool Stop(TimeSpan limit)
    {
        Signal(stop: true);
        return !_thread.IsAlive || _thread.Join(limit);
    }

    private void Signal(bool stop)
    {
        lock (_gate)
        {
            _requested = true;
            _stopping |= stop;
            Monitor.Pulse(_gate);
        }
    }

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                while (!_requested)
                {
                    Monitor.Wait(_gate);
                }

                _requested = false;
                if (_stopping)
                {
                    return;
                }
            }

            _push();
        }
    }
}
