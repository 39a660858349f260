using SocketCam.Diagnostics;

namespace SocketCam.Rooms;

/// <summary>
/// What a viewer's send loop counts for /api/stats and the status line: frames and bytes sent, the send rate, and
/// capture → send of the last frame. Kept by <see cref="ViewerFeed"/> for every v1 viewer (and shared with a v2
/// participant's send loop on the same connection). Written by the send loop, read from anywhere.
/// </summary>
internal sealed class SendCounters
{
    private readonly RateMeter _rate = new();
    private long _frames;
    private long _bytes;
    private long _latencyMicros = -1;

    public long FramesSent => Interlocked.Read(ref _frames);

    public long BytesSent => Interlocked.Read(ref _bytes);

    /// <summary>Frames sent per second over the last <see cref="RateMeter.Window"/>.</summary>
    public double PerSecond => _rate.PerSecond();

    /// <summary>Capture → sent of the last frame (µs, on the hub's clock), or -1 when not measured.</summary>
    public long LastLatencyMicros => Interlocked.Read(ref _latencyMicros);

    public void OnSent(int bytes)
    {
        Interlocked.Increment(ref _frames);
        Interlocked.Add(ref _bytes, bytes);
        _rate.Mark();
    }

    public void OnSent(int bytes, long latencyMicros)
    {
        Interlocked.Exchange(ref _latencyMicros, latencyMicros);
        OnSent(bytes);
    }
}
