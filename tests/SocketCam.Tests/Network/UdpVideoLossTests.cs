using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using SocketCam.Tests.Support;
using Side = SocketCam.Tests.Support.LossyNetwork.Side;

namespace SocketCam.Tests.Network;

/// <summary>
/// UDP live video (docs/PROTOCOL.md §2.0) across a real lossy link: `socketcam serve` in one network namespace,
/// `socketcam view udp://` in the other, nftables dropping datagrams at random in both directions.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed class UdpVideoLossTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-udp-loss-").FullName;

    [Fact]
    public async Task Without_loss_every_frame_arrives_byte_for_byte_as_the_server_sent_it()
    {
        await using LossyNetwork net = await LossyNetwork.CreateAsync(lossPercent: 0);
        string serverRecording = Path.Combine(_directory, "server");
        await using CliProcess serve = await StartServeAsync(net, "640x480", "--record", serverRecording);
        string viewerRecording = Path.Combine(_directory, "viewer.mjpeg");
        JsonElement view = await ViewAsync(net, "--frames", "150", "--record", viewerRecording);
        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(ProcessTimeout));

        Assert.Equal(150, view.GetProperty("frames").GetInt64());
        // Nothing lost on the way. ("dropped" also counts frames the hub skipped on purpose for a viewer 4 frames behind,
        // which a decoding hiccup on a loaded machine may cause: allowed, but only a few.)
        Assert.Equal(0, view.GetProperty("frames_lost").GetInt64());
        Assert.True(view.GetProperty("dropped").GetInt64() <= 3, view.ToString());
        // The link dropped nothing. (loss_pct may still be above 0 on a loaded machine: the receiving host can drop a
        // datagram itself when the viewer is descheduled, and recovery makes up for it like any other loss.)
        Assert.Equal(0, (await net.CountersAsync()).Dropped);

        // Identical bytes, hence identical pixels: every JPEG the viewer got is one the server recorded as it sent it.
        HashSet<string> sent = Hashes(Directory.GetFiles(serverRecording, "*.mjpeg").Single());
        List<string> received = [.. HashList(viewerRecording)];
        Assert.Equal(150, received.Count);
        Assert.All(received, h => Assert.Contains(h, sent));
    }

    [Fact]
    public async Task At_5_percent_loss_recovery_completes_at_least_95_percent_of_720p_frames_and_without_it_far_fewer()
    {
        await using LossyNetwork net = await LossyNetwork.CreateAsync(lossPercent: 5);
        await using CliProcess serve = await StartServeAsync(net, "1280x720");

        JsonElement recovered = await ViewAsync(net, "--seconds", "8");
        JsonElement unrecovered = await ViewAsync(net, "--seconds", "6", "--no-recovery");
        LinkCounters counters = await net.CountersAsync();
        string why = $"with recovery: {recovered}{Environment.NewLine}without: {unrecovered}{Environment.NewLine}{await net.StatisticsAsync()}";

        double withRecovery = CompleteShare(recovered);
        double withoutRecovery = CompleteShare(unrecovered);
        Assert.True(counters.Dropped > 100, why); // the link really lost datagrams
        Assert.True(withRecovery >= 0.95, $"{withRecovery:P1} complete with recovery{Environment.NewLine}{why}");
        Assert.True(withoutRecovery < 0.5 && withoutRecovery < withRecovery - 0.3, $"{withoutRecovery:P1} complete without recovery{Environment.NewLine}{why}");
        Assert.True(recovered.GetProperty("recovered").GetInt64() > 0, why);
        Assert.True(recovered.GetProperty("loss_pct").GetDouble() > 1, why);
        Assert.Equal(0, recovered.GetProperty("corrupt").GetInt64()); // every delivered frame decoded
        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(ProcessTimeout));
    }

    [Fact]
    public async Task At_20_percent_loss_the_stream_keeps_going_and_memory_stays_bounded()
    {
        await using LossyNetwork net = await LossyNetwork.CreateAsync(lossPercent: 20);
        await using CliProcess serve = await StartServeAsync(net, "1280x720");
        JsonElement view = await ViewAsync(net, "--seconds", "8");
        long rssKb = ResidentKilobytes(serve.Id);

        Assert.True(view.GetProperty("frames").GetInt64() >= 30, $"{view}{Environment.NewLine}{await net.StatisticsAsync()}");
        Assert.True(view.GetProperty("loss_pct").GetDouble() > 10, view.ToString());
        Assert.Equal(0, view.GetProperty("corrupt").GetInt64());
        Assert.False(serve.HasExited, serve.Transcript());
        Assert.True(rssKb < 400 * 1024, $"server RSS {rssKb} kB");
        await serve.InterruptAsync();
        Assert.Equal(0, await serve.WaitForExitAsync(ProcessTimeout));
    }

    // The server listens on a veth address, not loopback: it asks for a token (here one of our choosing).
    private const string Token = "udp-loss-test";

    private static async Task<CliProcess> StartServeAsync(LossyNetwork net, string size, params string[] extra)
    {
        CliProcess serve = net.StartCli(
            Side.Server,
            ["serve", "--listen", $"{net.ServerAddress}:9999", "--udp", $"{net.ServerAddress}:9999", "--http", "off", "--token", Token, "--source", "pattern", "--size", size, "--fps", "30", "--quiet", .. extra]);
        await serve.WaitForStdoutLineAsync(l => l.StartsWith("SocketCam UDP listening on udp://", StringComparison.Ordinal), ProcessTimeout);
        return serve;
    }

    /// <param name="mayGetNothing">Without recovery a 720p frame (~80 datagrams) rarely survives 5% loss: view may then
    /// end without a single frame, which it reports with exit code 1 (and its JSON summary all the same).</param>
    private static async Task<JsonElement> ViewAsync(LossyNetwork net, params string[] args)
    {
        bool mayGetNothing = args.Contains("--no-recovery");
        (int code, CliProcess view) = await net.RunCliAsync(Side.Client, ProcessTimeout, ["view", $"udp://{net.ServerAddress}:9999", "--token", Token, "--json", "--quiet", "--no-reconnect", .. args]);
        await using (view)
        {
            JsonElement json = view.LastJsonLine();
            Assert.True(code == 0 || (mayGetNothing && json.GetProperty("frames").GetInt64() == 0), view.Transcript());
            return json;
        }
    }

    /// <summary>
    /// Frames that arrived complete out of the frames that went onto the link: completed / (completed + lost on the way).
    /// (Not "dropped", which also counts frames the hub skipped on purpose while a busy viewer was still decoding.)
    /// </summary>
    private static double CompleteShare(JsonElement view)
    {
        double completed = view.GetProperty("udp").GetProperty("frames_completed").GetInt64();
        return completed / (completed + view.GetProperty("frames_lost").GetInt64());
    }

    private static long ResidentKilobytes(int pid)
    {
        string line = File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    private static HashSet<string> Hashes(string mjpeg) => [.. HashList(mjpeg)];

    private static IEnumerable<string> HashList(string mjpeg)
    {
        byte[] file = File.ReadAllBytes(mjpeg);
        (List<int> lengths, _) = MediaProbe.SplitJpegs(file);
        int offset = 0;
        foreach (int length in lengths)
        {
            yield return Convert.ToHexString(SHA256.HashData(file.AsSpan(offset, length)));
            offset += length;
        }
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
