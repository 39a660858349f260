namespace SocketCam.Udp;

/// <summary>
/// What a UDP receiver measured on its link, summed over its sessions (a viewer's `"loss_pct"`, `"recovered"`,
/// `"frames_lost"` in its JSON; the bench's loss figures).
/// </summary>
public sealed record UdpLinkStats
{
    /// <summary>Data and parity fragments the sender sent (as far as the receiver can tell).</summary>
    public long FragmentsExpected { get; init; }

    /// <summary>Fragments that did not arrive the first time (before parity or a resend made up for them).</summary>
    public long FragmentsLost { get; init; }

    /// <summary>Lost data fragments made up for: rebuilt from parity or arrived again after a NACK.</summary>
    public long Recovered { get; init; }

    /// <summary>Of <see cref="Recovered"/>, those rebuilt from parity.</summary>
    public long RebuiltFromParity { get; init; }

    /// <summary>Frames dropped incomplete (deadline passed, or a newer frame completed first).</summary>
    public long FramesLost { get; init; }

    /// <summary>Frames delivered whole.</summary>
    public long FramesCompleted { get; init; }

    /// <summary>Datagrams dropped as not this session's or not valid.</summary>
    public long DatagramsDropped { get; init; }

    public double LossPercent => FragmentsExpected == 0 ? 0 : 100.0 * FragmentsLost / FragmentsExpected;

    public UdpLinkStats Add(UdpLinkStats other) => new()
    {
        FragmentsExpected = FragmentsExpected + other.FragmentsExpected,
        FragmentsLost = FragmentsLost + other.FragmentsLost,
        Recovered = Recovered + other.Recovered,
        RebuiltFromParity = RebuiltFromParity + other.RebuiltFromParity,
        FramesLost = FramesLost + other.FramesLost,
        FramesCompleted = FramesCompleted + other.FramesCompleted,
        DatagramsDropped = DatagramsDropped + other.DatagramsDropped,
    };

    internal static UdpLinkStats From(in ReassemblyStats stats, long datagramsDropped) => new()
    {
        FragmentsExpected = stats.FragmentsExpected,
        FragmentsLost = stats.FragmentsLost,
        Recovered = stats.Recovered + stats.RetransmittedArrivals,
        RebuiltFromParity = stats.Recovered,
        FramesLost = stats.FramesLost,
        FramesCompleted = stats.FramesCompleted,
        DatagramsDropped = datagramsDropped + stats.Malformed + stats.Inconsistent + stats.TooLarge + stats.FarFuture,
    };
}
