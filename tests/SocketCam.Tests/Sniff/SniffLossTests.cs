using System.Text.Json;
using SocketCam.Tests.Support;
using Side = SocketCam.Tests.Support.LossyNetwork.Side;

namespace SocketCam.Tests.Sniff;

/// <summary>
/// `socketcam sniff` on a lossy link: the network-namespace harness (a veth pair, nftables dropping datagrams at
/// random), sniff in the client's namespace on its end of the link, and the capture read back by tshark with the
/// dissector. In the network collection, with the other lossy-link tests.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class SniffLossTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-sniff-loss-").FullName;

    [Fact]
    public async Task Udp_across_a_lossy_link_shows_the_loss_the_nacks_and_the_resends()
    {
        await using LossyNetwork net = await LossyNetwork.CreateAsync(lossPercent: 5);
        const string token = "sniff-test";
        await using CliProcess serve = net.StartCli(Side.Server, "serve", "--listen", $"{net.ServerAddress}:9999", "--udp", $"{net.ServerAddress}:9999", "--http", "off",
            "--token", token, "--source", "pattern", "--size", "640x480", "--fps", "30", "--quiet");
        await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam UDP listening on udp://", StringComparison.Ordinal), SniffCliTests.Wait);
        string pcap = Path.Combine(_directory, "lossy.pcap");
        // On the client's end of the link: a packet socket sees what arrives before nftables drops it, so it is on the
        // sending side of each direction's loss for what the client sends, and after it for what the server sends.
        await using CliProcess sniff = net.StartCli(Side.Client, "sniff", "-i", net.ClientInterface, "--pcap", pcap, "--json", "--interval", "0.5");
        await sniff.WaitForStdoutLineAsync(l => l.StartsWith('{'), SniffCliTests.Wait);
        (int code, CliProcess view) = await net.RunCliAsync(Side.Client, SniffCliTests.Wait, "view", $"udp://{net.ServerAddress}:9999", "--token", token, "--seconds", "4", "--json", "--quiet", "--no-reconnect");
        JsonElement viewed;
        await using (view)
        {
            Assert.True(code == 0, view.Transcript());
            viewed = view.LastJsonLine();
        }

        JsonElement figures = await SniffCliTests.StopSniffAsync(sniff, sessionsEnded: 1); // the viewer's BYE
        JsonElement udp = Assert.Single(figures.GetProperty("sessions").EnumerateArray(), s => s.GetProperty("format").GetString() == "udp");
        JsonElement u = udp.GetProperty("udp");
        string why = $"{udp}{Environment.NewLine}{viewed}{Environment.NewLine}{await net.StatisticsAsync()}";
        Assert.Null(udp.GetProperty("malformed").GetString());
        Assert.True(u.GetProperty("nacks").GetInt64() > 0, why);
        Assert.True(u.GetProperty("resends").GetInt64() > 0, why);
        Assert.True(u.GetProperty("reported_lost").GetInt64() > 0, why);
        // The viewer's REPORTs, read off the wire, add up to its own summary: its last one goes just before its BYE.
        Assert.True(viewed.GetProperty("udp").GetProperty("fragments_lost").GetInt64() == u.GetProperty("reported_lost").GetInt64(), why);
        Assert.True(SniffCliTests.Received(udp, "video") >= viewed.GetProperty("frames").GetInt64(), why);

        var tshark = new Tshark(pcap, 9999);
        await SniffCliTests.AssertNoneAsync(tshark, Tshark.MalformedFilter);
        FieldCounts counts = await tshark.CountAsync("socketcam.udp.type");
        Assert.Equal(u.GetProperty("nacks").GetInt64(), counts.Of("socketcam.udp.type", 0x11));
        Assert.Equal(u.GetProperty("fragments").GetInt64(), counts.Of("socketcam.udp.type", 0x10));
        await serve.InterruptAsync();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
