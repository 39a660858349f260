using Microsoft.Extensions.Logging;
using SocketCam.Display.Sdl;

namespace SocketCam.Display;

/// <summary>
/// What a window draws, called on its <see cref="WindowThread"/> (the only thread that touches SDL). The thread owns the
/// window, its events and closing; the scene owns its textures and decides when drawing is worth it.
/// </summary>
internal interface IWindowScene
{
    /// <summary>Render thread, once, right after the window opened (before <see cref="Render"/>).</summary>
    void Opened(SdlWindow window);

    /// <summary>
    /// Render thread, once per pass of the loop after the pending events were handled (a wake, an event or the timeout):
    /// takes what producers left, and draws and presents only if something changed. <paramref name="invalidated"/>: the
    /// window needs drawing anew since the last pass (exposed, resized, shown again); <paramref name="hidden"/>: minimized
    /// or hidden, nothing drawn would be seen.
    /// </summary>
    void Render(SdlWindow window, bool invalidated, bool hidden);

    /// <summary>Render thread, once, before the window is destroyed (normally or after a failure): frees the scene's textures.</summary>
    void Closing();
}

/// <summary>Settings of a <see cref="WindowThread"/>: the window it opens and how often it looks around.</summary>
internal sealed record WindowThreadOptions(string Title, int InitialWidth, int InitialHeight, TimeSpan EventTimeout, string Alternative, string ThreadName);

/// <summary>
/// The render thread every SocketCam window runs on (<see cref="VideoWindow"/>, <see cref="CallGridWindow"/>): it opens the
/// SDL window, waits for events with a timeout (so the window keeps answering while nothing comes), hands each pass to an
/// <see cref="IWindowScene"/>, and is woken by producers through a <see cref="WindowWaker"/> (never touching SDL or the X
/// server themselves). 'q', Esc, Enter and the close button cancel <see cref="Closed"/>; the owner then stops it.
/// </summary>
internal sealed class WindowThread
{
    /// <summary>How long <see cref="Stop"/> waits for the thread by default.</summary>
    public static readonly TimeSpan JoinLimit = TimeSpan.FromSeconds(10);

    /// <summary>How long a cancelled <see cref="StartAsync"/> waits for the thread (stuck in SDL_Init, it has used nothing yet).</summary>
    private static readonly TimeSpan CancelledOpenJoinLimit = TimeSpan.FromSeconds(1);

    private readonly WindowThreadOptions _options;
    private readonly IWindowScene _scene;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private readonly WindowWaker _waker;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closed = new();
    private readonly Lock _sdlLock = new();
    private volatile bool _stopRequested;
    private bool _sdlAlive;        // under _sdlLock: PushEvent is allowed
    private uint _wakeEventType;   // under _sdlLock
    private volatile string? _closedBy;
    private Exception? _failure;
    private Task? _closing;
    private bool _stopped;

    public WindowThread(WindowThreadOptions options, IWindowScene scene, ILogger logger)
    {
        _options = options;
        _scene = scene;
        _logger = logger;
        _thread = new Thread(Run) { IsBackground = true, Name = options.ThreadName };
        _waker = new WindowWaker(PushWake, options.ThreadName + " waker");
    }

    /// <summary>Cancelled when the user closed the window (a key or the close button), or when the render thread failed (<see cref="Failure"/>).</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>How the user closed the window ("q", "Esc", "Enter", "the close button"), or null.</summary>
    public string? ClosedBy => _closedBy;

    /// <summary>The render thread's unexpected failure (a bug), once it has stopped; null when it ended normally.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Any thread, never blocks: makes the render thread run a pass soon (coalesced, see <see cref="WindowWaker"/>).</summary>
    public void Wake() => _waker.Wake();

    /// <summary>
    /// Starts the thread, which opens the window, and returns the renderer's name once it is up. Throws what opening threw
    /// (<see cref="Diagnostics.UserFacingException"/>: SDL cannot use the display). <paramref name="cancellationToken"/>
    /// abandons the wait (SDL_Init can block on a display that accepts the connection but never answers): the thread is
    /// then told to stop and left behind if it does not, before the scene was ever called.
    /// </summary>
    public async Task<string> StartAsync(CancellationToken cancellationToken)
    {
        _waker.Start();
        _thread.Start();
        try
        {
            return await _ready.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The render thread looks at the stop request before it calls the scene.
            Stop(CancelledOpenJoinLimit);
            throw;
        }
        catch
        {
            Stop(JoinLimit);
            throw;
        }
    }

    /// <summary>
    /// Stops the render thread (closing the window if still open) and waits for it, at most <paramref name="limit"/>. False
    /// when it did not stop in time (an X server that stopped answering): it is left behind (a background thread: it does not
    /// hold up the program's exit) and may still use the scene's data, which the owner must then not free. Calling it again
    /// waits again. Rethrows nothing: see <see cref="Failure"/>.
    /// </summary>
    public bool Stop(TimeSpan limit)
    {
        if (_stopped)
        {
            return true;
        }

        _stopRequested = true;
        _waker.Wake();
        if (_thread.IsAlive && !_thread.Join(limit))
        {
            // An X server that stopped answering must not hang the program's exit: the waker is told to end but not
            // waited for (it may be stuck in SDL_PushEvent on the same server).
            _waker.Stop(TimeSpan.Zero);
            DisplayLog.RenderThreadStuck(_logger, limit.TotalSeconds);
            return false;
        }

        // The render thread has let go of SDL (_sdlAlive is false): the waker cannot be inside SDL_PushEvent any more.
        bool wakerEnded = _waker.Stop(limit);
        System.Diagnostics.Debug.Assert(wakerEnded, "the window's waker did not end after the render thread");
        _stopped = true;

        // Not while the close callbacks still run (Stop is often called from inside them); a CTS without a timer or a
        // wait handle holds nothing that needs freeing then.
        if (_closing is null || _closing.IsCompleted)
        {
            _closed.Dispose();
        }

        return true;
    }

    /// <summary>The waker's thread only: puts a wake event in SDL's queue (SDL_PushEvent may write to the X server).</summary>
    private unsafe void PushWake()
    {
        lock (_sdlLock)
        {
            if (_sdlAlive)
            {
                SdlEvent wake = default;
                wake.Type = _wakeEventType;
                SdlNative.PushEvent(&wake);
            }
        }
    }

    private void Run()
    {
        SdlWindow? window = null;
        bool sceneStarted = false;
        bool closedByUser = false;
        try
        {
            window = SdlWindow.Open(_options.Title, _options.InitialWidth, _options.InitialHeight, _options.Alternative);
            lock (_sdlLock)
            {
                _wakeEventType = window.WakeEventType;
                _sdlAlive = true;
            }

            DisplayLog.Opened(_logger, _options.Title, window.RendererName);
            _ready.TrySetResult(window.RendererName);
            Loop(window, ref sceneStarted);
            closedByUser = _closedBy is not null;
        }
        catch (Exception ex) when (!_ready.Task.IsCompleted)
        {
            _ready.TrySetException(ex);
        }
        catch (Exception ex)
        {
            Volatile.Write(ref _failure, ex);
            DisplayLog.RenderThreadFailed(_logger, ex);
            closedByUser = true; // the window is gone: let the owner stop, then it reports the failure
        }
        finally
        {
            lock (_sdlLock)
            {
                _sdlAlive = false;
            }

            try
            {
                if (sceneStarted)
                {
                    _scene.Closing();
                }
            }
            finally
            {
                window?.Dispose();
            }
        }

        if (closedByUser)
        {
            if (_closedBy is { } how)
            {
                DisplayLog.ClosedByUser(_logger, how);
            }

            // After the window is gone, so it disappears at once. CancelAsync runs the owner's callbacks (stopping the
            // command, which ends by stopping this window and joining this thread) on the thread pool, never here.
            _closing = _closed.CancelAsync();
        }
    }

    private unsafe void Loop(SdlWindow window, ref bool sceneStarted)
    {
        int timeoutMs = Math.Max(1, (int)_options.EventTimeout.TotalMilliseconds);
        bool invalidated = true;
        bool hidden = false;
        while (!_stopRequested)
        {
            SdlEvent e;
            if (SdlNative.WaitEventTimeout(&e, timeoutMs) == 1)
            {
                do
                {
                    Handle(window, e, ref invalidated, ref hidden);
                }
                while (SdlNative.PollEvent(&e) == 1);
            }

            if (_closedBy is not null || _stopRequested)
            {
                return;
            }

            if (!sceneStarted)
            {
                sceneStarted = true;
                _scene.Opened(window);
            }

            // Rearmed before the scene looks at its producers: what they publish from now on wakes the loop again.
            _waker.Rearm();
            _scene.Render(window, invalidated, hidden);
            invalidated = false;
        }
    }

    private void Handle(SdlWindow window, in SdlEvent e, ref bool invalidated, ref bool hidden)
    {
        switch (e.Type)
        {
            case SdlNative.EventQuit:
                _closedBy ??= "the close button";
                break;
            case SdlNative.EventKeyDown when e.KeyCode == SdlNative.KeyF:
                window.ToggleFullscreen();
                invalidated = true;
                break;
            case SdlNative.EventKeyDown:
                _closedBy ??= e.KeyCode switch
                {
                    SdlNative.KeyQ => "q",
                    SdlNative.KeyEscape => "Esc",
                    SdlNative.KeyReturn or SdlNative.KeyKeypadEnter => "Enter",
                    _ => null,
                };
                break;
            case SdlNative.EventWindow:
                switch (e.WindowEvent)
                {
                    case SdlNative.WindowEventClose:
                        _closedBy ??= "the close button";
                        break;
                    case SdlNative.WindowEventMinimized or SdlNative.WindowEventHidden:
                        hidden = true;
                        break;
                    case SdlNative.WindowEventRestored or SdlNative.WindowEventShown or SdlNative.WindowEventMaximized:
                        hidden = false;
                        invalidated = true;
                        break;
                    case SdlNative.WindowEventExposed or SdlNative.WindowEventSizeChanged or SdlNative.WindowEventResized:
                        invalidated = true;
                        break;
                }

                break;
        }
    }
}
