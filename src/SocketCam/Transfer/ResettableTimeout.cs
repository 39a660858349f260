namespace SocketCam.Transfer;

/// <summary>
/// One cancellation source re-armed before each wait (a new one only after it fired), linked to the caller's token:
/// per-wait timeouts without a new source per datagram.
/// </summary>
internal sealed class ResettableTimeout : IDisposable
{
    private readonly CancellationToken _outer;
    private CancellationTokenSource _source;

    public ResettableTimeout(CancellationToken outer)
    {
        _outer = outer;
        _source = CancellationTokenSource.CreateLinkedTokenSource(outer);
    }

    /// <summary>A token cancelled after <paramref name="timeout"/> (never, for <see cref="Timeout.InfiniteTimeSpan"/>) or with the caller's.</summary>
    public CancellationToken Arm(TimeSpan timeout)
    {
        if (_source.IsCancellationRequested)
        {
            _outer.ThrowIfCancellationRequested();
            _source.Dispose();
            _source = CancellationTokenSource.CreateLinkedTokenSource(_outer);
        }

        _source.CancelAfter(timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan ? TimeSpan.Zero : timeout);
        return _source.Token;
    }

    /// <summary>True when a cancellation came from the timeout, not from the caller.</summary>
    public bool Expired => _source.IsCancellationRequested && !_outer.IsCancellationRequested;

    public void Dispose() => _source.Dispose();
}
