using SocketCam.Udp;

namespace SocketCam.Tests.Udp;

public sealed class LossAdaptationTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(4, 0)]      // 0.4%: NACK alone
    [InlineData(5, 32)]     // 0.5%: 0.5 / 0.005 = 100, clamped
    [InlineData(10, 32)]    // 1%: 50, clamped
    [InlineData(50, 10)]    // 5%: 10 (10% parity)
    [InlineData(200, 4)]    // 20%: 2.5 rounds to 3, clamped up
    public void Group_follows_the_reported_loss(uint lostPerThousand, int group)
    {
        var adaptation = new LossAdaptation(recoveryEnabled: true);
        adaptation.OnReport(new UdpReport(1000, lostPerThousand, 30, 0, 10_000));
        Assert.Equal(lostPerThousand / 1000.0, adaptation.SmoothedLoss, 9);
        Assert.Equal(group, adaptation.Group);
    }

    [Fact]
    public void A_long_round_trip_halves_the_group_and_no_recovery_means_no_parity()
    {
        var adaptation = new LossAdaptation(recoveryEnabled: true);
        adaptation.OnReport(new UdpReport(1000, 50, 30, 0, 100_001));
        Assert.Equal(5, adaptation.Group);
        adaptation.OnReport(new UdpReport(0, 0, 0, 0, 100_000));
        Assert.Equal(10, adaptation.Group);

        var off = new LossAdaptation(recoveryEnabled: false);
        off.OnReport(new UdpReport(1000, 200, 30, 0, 0));
        Assert.Equal(0, off.Group);
        Assert.Equal(0.2, off.SmoothedLoss, 9);
    }

    [Fact]
    public void Loss_is_smoothed_and_empty_reports_change_nothing()
    {
        var adaptation = new LossAdaptation(recoveryEnabled: true);
        adaptation.OnReport(new UdpReport(1000, 100, 30, 0, 0));
        adaptation.OnReport(new UdpReport(0, 0, 0, 0, 0));
        Assert.Equal(0.1, adaptation.SmoothedLoss, 9);
        adaptation.OnReport(new UdpReport(1000, 0, 30, 0, 0));
        Assert.Equal(0.07, adaptation.SmoothedLoss, 9);
        for (int i = 0; i < 30; i++)
        {
            adaptation.OnReport(new UdpReport(1000, 0, 30, 0, 0));
        }

        Assert.Equal(0, adaptation.Group);
    }
}
