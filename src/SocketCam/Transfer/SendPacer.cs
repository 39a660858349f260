using System.Diagnostics;

namespace SocketCam.Transfer;

/// <summary>
/// Paces datagrams to a byte rate by absolute deadlines (bytes sent / rate since the start), sleeping only when ahead by
/// more than a couple of milliseconds. Credit saved while idle (waiting for a NACK) is capped, so a retransmission round
/// does not start with a burst that overflows the receiver's socket buffer.
/// </summary>
internal sealed class SendPacer
{
    private const double MinSleepSeconds = 0.002;
    private const double MaxCreditSeconds = 0.005;

    private readonly double _bytesPerSecond;
    private readonly long _start = Stopwatch.GetTimestamp();
    private double _bytes;

    /// <param name="bytesPerSecond">0 = no pacing.</param>
    public SendPacer(double bytesPerSecond)
    {
        _bytesPerSecond = bytesPerSecond;
    }

    /// <summary>Accounts for <paramref name="bytes"/> about to be sent and waits if they would go out early.</summary>
    public ValueTask WaitAsync(int bytes, CancellationToken cancellationToken)
    {
        if (_bytesPerSecond <= 0)
        {
            return ValueTask.CompletedTask;
        }

        double now = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        double due = _bytes / _bytesPerSecond;
        if (now - due > MaxCreditSeconds)
        {
            _bytes = (now - MaxCreditSeconds) * _bytesPerSecond;
            due = now - MaxCreditSeconds;
        }

        _bytes += bytes;
        double ahead = due - now;
        return ahead > MinSleepSeconds
            ? new ValueTask(Task.Delay(TimeSpan.FromSeconds(ahead), cancellationToken))
            : ValueTask.CompletedTask;
    }
}
