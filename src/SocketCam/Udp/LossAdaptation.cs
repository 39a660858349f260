namespace SocketCam.Udp;

/// <summary>
/// The frame sender's choice of parity group size G from the receiver's REPORTs (docs/PROTOCOL.md §2.0): no parity
/// below 0.5% loss (NACK alone suffices), otherwise <c>clamp(round(0.5 / loss), 4, 32)</c>, halved when the round
/// trip exceeds half the deadline (NACK cannot help in time). Always 0 without loss recovery.
/// </summary>
internal sealed class LossAdaptation
{
    public const double NoParityBelow = 0.005;

    public const int MinGroup = 4;

    public const int MaxGroup = 32;

    /// <summary>Weight of the newest report in the smoothed loss: a few reports (about a second) dominate.</summary>
    public const double Smoothing = 0.3;

    private readonly long _deadlineMicros;
    private bool _haveLoss;

    public LossAdaptation(bool recoveryEnabled, long deadlineMicros = 200_000)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(deadlineMicros);
        RecoveryEnabled = recoveryEnabled;
        _deadlineMicros = deadlineMicros;
    }

    public bool RecoveryEnabled { get; }

    /// <summary>Smoothed fraction of fragments lost (0..1).</summary>
    public double SmoothedLoss { get; private set; }

    /// <summary>The last round trip a report gave (0 = unknown).</summary>
    public uint RttMicros { get; private set; }

    /// <summary>The parity group size to use for the next frames (0 = no parity).</summary>
    public int Group => RecoveryEnabled ? GroupFor(SmoothedLoss, RttMicros, _deadlineMicros) : 0;

    public void OnReport(in UdpReport report)
    {
        if (report.RttMicros != 0)
        {
            RttMicros = report.RttMicros;
        }

        // A report without fragments (no frames in that interval) says nothing about loss.
        if (report.FragmentsExpected == 0)
        {
            return;
        }

        double loss = Math.Min(1.0, (double)report.FragmentsLost / report.FragmentsExpected);
        SmoothedLoss = _haveLoss ? (Smoothing * loss) + ((1 - Smoothing) * SmoothedLoss) : loss;
        _haveLoss = true;
    }

    public static int GroupFor(double loss, uint rttMicros, long deadlineMicros)
    {
        if (!(loss >= NoParityBelow))
        {
            return 0;
        }

        int group = (int)Math.Clamp(Math.Round(0.5 / loss, MidpointRounding.AwayFromZero), MinGroup, MaxGroup);
        return rttMicros > deadlineMicros / 2 ? group / 2 : group;
    }
}
