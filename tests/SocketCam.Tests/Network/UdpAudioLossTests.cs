using System.Globalization;
using System.Text.RegularExpressions;
using SocketCam.Tests.Support;
using Side = SocketCam.Tests.Support.LossyNetwork.Side;

namespace SocketCam.Tests.Network;

/// <summary>
/// Sound over UDP across a real lossy link (docs/PROTOCOL.md §2.0 "Audio"): `serve` in one network namespace, a
/// `publish udp:// --audio` and a `view udp:// --audio-out` in the other, nftables dropping 5% of the datagrams at
/// random each way, so the sound crosses the lossy link twice. NACKed resends and the next packet's FEC keep what is
/// played whole; a TCP viewer of the same room hears the UDP publisher's track too.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed partial class UdpAudioLossTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(60);
    private const string Token = "udp-audio-loss-test";
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-udp-audio-").FullName;

    [Fact]
    public async Task At_5_percent_loss_each_way_at_most_5_percent_of_the_sound_is_concealed_and_no_gap_is_longer_than_60_ms()
    {
        await using LossyNetwork net = await LossyNetwork.CreateAsync(lossPercent: 5);
        string hub = $"{net.ServerAddress}:9999";
        await using CliProcess serve = net.StartCli(Side.Server, "serve", "--listen", hub, "--udp", hub, "--http", "off", "--token", Token, "--source", "none", "--data", Path.Combine(_directory, "data"));
        await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam UDP listening on udp://", StringComparison.Ordinal), ProcessTimeout);
        await using CliProcess publish = net.StartCli(Side.Client, "publish", $"udp://{hub}", "--token", Token, "--source", "pattern", "--size", "320x240", "--audio", "lavfi:sine=frequency=440", "--quiet");

        string udpWav = Path.Combine(_directory, "udp.wav");
        string tcpWav = Path.Combine(_directory, "tcp.wav");
        Task<(int, CliProcess)> overTcp = net.RunCliAsync(Side.Client, ProcessTimeout, "view", $"tcp://{hub}", "--token", Token, "--audio-out", tcpWav, "--seconds", "8", "--no-window", "--quiet");
        (int code, CliProcess view) = await net.RunCliAsync(Side.Client, ProcessTimeout, "view", $"udp://{hub}", "--token", Token, "--audio-out", udpWav, "--seconds", "8", "--no-window", "--quiet", "--no-reconnect");
        (int tcpCode, CliProcess tcpView) = await overTcp;
        await using (view)
        await using (tcpView)
        {
            LinkCounters counters = await net.CountersAsync();
            string why = $"{view.Transcript()}{Environment.NewLine}{await net.StatisticsAsync()}";
            Assert.True(code == 0, why);
            Assert.True(tcpCode == 0, tcpView.Transcript());
            Assert.True(counters.Dropped > 20, why); // the link really lost datagrams

            // What the viewer played: PLC-concealed packets at most 5% of all played (lost ones rebuilt from FEC or
            // resent after a NACK do not count: they are the real sound).
            string summary = Assert.Single(view.Stderr, l => l.StartsWith("audio: ", StringComparison.Ordinal));
            Match m = Concealed().Match(summary);
            Assert.True(m.Success, summary);
            double concealedPercent = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.True(concealedPercent <= 5, summary);

            (short[] heard, int rate) = WavAnalysis.Read(udpWav);
            short[] sound = FromFirstSound(heard, rate);
            Assert.Equal(440, WavAnalysis.DominantFrequency(sound, rate), 0);
            double gap = WavAnalysis.LongestQuietMs(sound, rate);
            Assert.True(gap <= 60, string.Create(CultureInfo.InvariantCulture, $"a {gap:0} ms gap in the played sound; {summary}"));

            // The UDP publisher's sound is the room's audio track for everyone: here a v2 viewer over TCP.
            (short[] overTcpHeard, _) = WavAnalysis.Read(tcpWav);
            Assert.Equal(440, WavAnalysis.DominantFrequency(FromFirstSound(overTcpHeard, rate), rate), 0);
        }

        await publish.InterruptAsync();
        Assert.Equal(0, await publish.WaitForExitAsync(ProcessTimeout));
        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(ProcessTimeout));

        // Both ends asked for what the link lost, and got some of it back in time: the hub resent to the viewer, and
        // the publisher resent to the hub.
        string hubLog = serve.Transcript();
        Match toViewer = ResentToViewer().Match(hubLog);
        Assert.True(toViewer.Success && long.Parse(toViewer.Groups[1].Value, CultureInfo.InvariantCulture) > 0, hubLog);
        Match fromPublisher = BackAfterNack().Match(hubLog);
        Assert.True(fromPublisher.Success && long.Parse(fromPublisher.Groups[1].Value, CultureInfo.InvariantCulture) > 0, hubLog);
    }

    private static short[] FromFirstSound(short[] heard, int rate)
    {
        // From the first sound on (the hub needs a moment to route the track), without the last 200 ms (the end).
        int start = Array.FindIndex(heard, x => Math.Abs((int)x) > 500);
        Assert.True(start >= 0 && heard.Length - start > rate * 3, $"{heard.Length - start} samples of sound in {heard.Length}");
        return heard[start..^(rate / 5)];
    }

    [GeneratedRegex(@"concealed \d+ \(([0-9.]+)%\)")]
    private static partial Regex Concealed();

    [GeneratedRegex(@"audio packets \((\d+) resent")]
    private static partial Regex ResentToViewer();

    [GeneratedRegex(@"\((\d+) of \d+ missed came back after a NACK")]
    private static partial Regex BackAfterNack();

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
