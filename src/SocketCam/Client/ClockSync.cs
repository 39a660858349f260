using SocketCam.Diagnostics;
using SocketCam.Protocol;

namespace SocketCam.Client;

/// <summary>
/// A client's view of the hub's clock from its PING/PONGs (docs/PROTOCOL.md §1.4), for every transport: the last round
/// trip, and the offset from the PONG with the shortest round trip so far, which bounds the error best (as NTP does).
/// </summary>
internal sealed class ClockSync
{
    private readonly Lock _lock = new();
    private double _bestRttMicros = double.MaxValue;
    private long _offsetMicros;
    private long _lastRttMicros;

    /// <param name="initialOffsetMicros">The estimate until the first PONG (from WELCOME's server time, ignoring the one-way delay).</param>
    public ClockSync(long initialOffsetMicros) => _offsetMicros = initialOffsetMicros;

    /// <summary>Hub clock minus local clock, µs.</summary>
    public long OffsetMicros
    {
        get
        {
            lock (_lock)
            {
                return _offsetMicros;
            }
        }
    }

    public long LastRttMicros
    {
        get
        {
            lock (_lock)
            {
                return _lastRttMicros;
            }
        }
    }

    public void OnPong(in PongMessage pong)
    {
        long now = Clock.NowMicros();
        long rtt = now - pong.EchoSentMicros;
        if (rtt < 0)
        {
            return;
        }

        long offset = pong.PeerTimeMicros - ((pong.EchoSentMicros + now) / 2);
        lock (_lock)
        {
            _lastRttMicros = rtt;
            if (rtt <= _bestRttMicros * 1.5)
            {
                _bestRttMicros = Math.Min(_bestRttMicros, rtt);
                _offsetMicros = offset;
            }
        }
    }
}
