using System.Diagnostics;

namespace SocketCam.Limits;

/// <summary>
/// A v2 connection's request budget (docs/PROTOCOL.md §4.6.3): a token bucket of <c>burst</c> tokens refilled at
/// <c>perSecond</c>; each PUBLISH, UNPUBLISH, SUBSCRIBE, UNSUBSCRIBE or SOURCE_STATE takes one. Not thread-safe: one per
/// receive loop.
/// </summary>
internal sealed class RequestBucket
{
    private readonly double _burst;
    private readonly double _perSecond;
    private double _tokens;
    private long _last = Stopwatch.GetTimestamp();

    public RequestBucket(int burst, double perSecond)
    {
        _burst = Math.Max(1, burst);
        _perSecond = Math.Max(0, perSecond);
        _tokens = _burst;
    }

    public bool TryTake()
    {
        long now = Stopwatch.GetTimestamp();
        _tokens = Math.Min(_burst, _tokens + ((now - _last) / (double)Stopwatch.Frequency * _perSecond));
        _last = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens -= 1;
        return true;
    }

    /// <summary>How long until the next token (after a refused <see cref="TryTake"/>): a refusal says when to try again.</summary>
    public TimeSpan UntilNextToken => _perSecond <= 0 ? TimeSpan.MaxValue : TimeSpan.FromSeconds(Math.Max(0, 1 - _tokens) / _perSecond);
}
