namespace SocketCam.Transfer;

/// <summary>Limits and timers of an image transfer. The defaults are the ones docs/PROTOCOL.md §2.1 gives.</summary>
internal sealed record ImageTransferOptions
{
    /// <summary>Receiver: the largest file accepted, checked before anything is allocated (at most <see cref="Array.MaxLength"/>).</summary>
    public long MaxFileBytes { get; init; } = TransferProtocol.DefaultMaxFileBytes;

    /// <summary>Both: give up when the other side has been silent this long (during a transfer).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Receiver: how long to wait for a sender to start (infinite: until cancelled).</summary>
    public TimeSpan StartTimeout { get; init; } = System.Threading.Timeout.InfiniteTimeSpan;

    /// <summary>UDP receiver: a NACK goes out when nothing arrived for this long.</summary>
    public TimeSpan NackDelay { get; init; } = TimeSpan.FromMilliseconds(30);

    /// <summary>UDP receiver: the NACK interval doubles while nothing arrives, up to this.</summary>
    public TimeSpan MaxNackInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>UDP sender: with no answer for this long it resends a part as a probe (doubling, up to <see cref="MaxProbeInterval"/>).</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxProbeInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>UDP sender: gives up after this many NACKs in a row with no fewer parts missing than the best so far.</summary>
    public int MaxStalledRounds { get; init; } = 8;

    /// <summary>UDP receiver: after its ACK, how long it answers a sender that did not get it (ends early on DONE).</summary>
    public TimeSpan AckLinger { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>UDP sender: pace (bytes per second on the wire); 0 = as fast as the socket takes them.</summary>
    public double MaxBytesPerSecond { get; init; } = 25e6;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a value no transfer can work with.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxFileBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxFileBytes, TransferProtocol.MaxFileBytesLimit);
        RequirePositive(Timeout, nameof(Timeout));
        if (StartTimeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            RequirePositive(StartTimeout, nameof(StartTimeout));
        }

        RequirePositive(NackDelay, nameof(NackDelay));
        RequirePositive(MaxNackInterval, nameof(MaxNackInterval));
        RequirePositive(ProbeInterval, nameof(ProbeInterval));
        RequirePositive(MaxProbeInterval, nameof(MaxProbeInterval));
        RequirePositive(AckLinger, nameof(AckLinger));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxStalledRounds, 1);
        if (!double.IsFinite(MaxBytesPerSecond) || MaxBytesPerSecond < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBytesPerSecond), MaxBytesPerSecond, "must be 0 (unpaced) or a positive rate");
        }
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        // CancelAfter and Task.Delay take at most ~49 days.
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > uint.MaxValue - 1)
        {
            throw new ArgumentOutOfRangeException(name, value, "must be above zero and at most 49 days");
        }
    }
}
