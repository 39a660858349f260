namespace SocketCam.Diagnostics;

/// <summary>
/// Events per second over the last few seconds (frames a client was sent): a ring of the last 256 event times. One
/// thread marks, any thread reads; a reader racing the writer may be off by an event, which is fine for statistics.
/// </summary>
public sealed class RateMeter
{
    private const int Capacity = 256;
    private readonly long[] _times = new long[Capacity];
    private long _count;

    /// <summary>How far back <see cref="PerSecond"/> looks, so every fps figure (a client's send and receive rates); 2 s.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(2);

    internal RateMeter()
    {
    }

    internal void Mark()
    {
        long count = _count;
        Volatile.Write(ref _times[count & (Capacity - 1)], Environment.TickCount64);
        Volatile.Write(ref _count, count + 1);
    }

    /// <summary>Events in the last <see cref="Window"/>, per second (at most 128/s can be told apart).</summary>
    internal double PerSecond()
    {
        long now = Environment.TickCount64;
        long count = Volatile.Read(ref _count);
        long windowMs = (long)Window.TotalMilliseconds;
        int recent = 0;
        for (long i = count - 1; i >= 0 && i >= count - Capacity; i--)
        {
            if (now - Volatile.Read(ref _times[i & (Capacity - 1)]) > windowMs)
            {
                break;
            }

            recent++;
        }

        return recent / Window.TotalSeconds;
    }
}
