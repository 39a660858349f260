namespace SocketCam.Tests.Support;

/// <summary>
/// For conditions nothing signals (a file growing on disk, a counter in another process): checks every few
/// milliseconds until true, and fails with <paramref name="what"/> after a timeout. Never a fixed sleep.
/// </summary>
internal static class Eventually
{
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TestHub.Timeout;
        long deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"Not true within {limit.TotalSeconds:0.#} s: {what}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>The same for a condition that must be awaited (a screenshot, another process's answer); checks every 100 ms.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TestHub.Timeout;
        long deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (!await condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"Not true within {limit.TotalSeconds:0.#} s: {what}");
            }

            await Task.Delay(100);
        }
    }
}
