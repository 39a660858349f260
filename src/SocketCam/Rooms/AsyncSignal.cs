using System.Threading.Tasks.Sources;

namespace SocketCam.Rooms;

/// <summary>
/// An auto-reset event for one waiter at a time, allocation-free per wait (unlike SemaphoreSlim.WaitAsync).
/// <see cref="Set"/> wakes the waiter, or lets the next wait pass at once. Continuations run on the thread pool,
/// so the thread that signals (the fan-out) never runs a viewer's send inline.
/// </summary>
public sealed class AsyncSignal : IValueTaskSource
{
    private readonly Lock _lock = new();
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private bool _signaled;
    private bool _waiting;
    private CancellationTokenRegistration _registration;

    /// <summary>Wakes the waiter, or lets the next <see cref="WaitAsync"/> pass at once.</summary>
    public void Set()
    {
        lock (_lock)
        {
            if (_waiting)
            {
                _waiting = false;
                _core.SetResult(true);
            }
            else
            {
                _signaled = true;
            }
        }
    }

    /// <summary>Waits for <see cref="Set"/>; only one caller may wait at a time.</summary>
    public ValueTask WaitAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_signaled)
            {
                _signaled = false;
                return ValueTask.CompletedTask;
            }

            if (_waiting)
            {
                throw new InvalidOperationException("AsyncSignal supports one waiter at a time.");
            }

            cancellationToken.ThrowIfCancellationRequested();
            _core.Reset();
            _waiting = true;
            short version = _core.Version;
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(static (state, token) => ((AsyncSignal)state!).Cancel(token), this);
            }

            return new ValueTask(this, version);
        }
    }

    private void Cancel(CancellationToken token)
    {
        lock (_lock)
        {
            if (_waiting)
            {
                _waiting = false;
                _core.SetException(new OperationCanceledException(token));
            }
        }
    }

    void IValueTaskSource.GetResult(short token)
    {
        CancellationTokenRegistration registration;
        lock (_lock)
        {
            registration = _registration;
            _registration = default;
        }

        // Unregister outside the lock: Dispose waits for a running callback, which takes the lock.
        registration.Dispose();
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
