using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using SocketCam.Tests.Support;
using SocketCam.Tests.Transfer;
using SocketCam.Transfer;
using Side = SocketCam.Tests.Support.LossyNetwork.Side;

namespace SocketCam.Tests.Network;

/// <summary>
/// <see cref="LossyNetwork"/> itself (two namespaces, a veth pair, random drops by nftables), then the UDP image
/// transfer (docs/PROTOCOL.md §2.1) between `socketcam send-image` and `socketcam receive-image` across it.
/// </summary>
[Collection(NetworkCollection.Name)]
public sealed partial class LossyNetworkTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Receives numbered datagrams on 0.0.0.0:PORT until EXPECTED distinct ones came or the link has been quiet for 1 s
    /// (10 s before the first), then prints {"received": distinct, "duplicates": n, "from": first sender's address}.
    /// </summary>
    private const string Receiver = """
        import json, socket, struct, sys
        port, expected = int(sys.argv[1]), int(sys.argv[2])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # A receive buffer far larger than the test's bursts: losses must be the link's, not the socket's.
        s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (root may exceed rmem_max); Python has no name for it
        s.bind(("0.0.0.0", port))
        print("ready", flush=True)
        seen, duplicates, sender = set(), 0, None
        s.settimeout(10.0)
        try:
            while len(seen) < expected:
                data, address = s.recvfrom(65536)
                sender = sender or address[0]
                (number,) = struct.unpack_from(">I", data)
                duplicates += number in seen
                seen.add(number)
                s.settimeout(1.0)
        except socket.timeout:
            pass
        print(json.dumps({"received": len(seen), "duplicates": duplicates, "from": sender}), flush=True)
        """;

    /// <summary>Sends COUNT numbered 200-byte datagrams to HOST:PORT, 100 at a time with a short pause between bursts.</summary>
    private const string Sender = """
        import socket, struct, sys, time
        host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for number in range(count):
            s.sendto(struct.pack(">I", number) + bytes(196), (host, port))
            if number % 100 == 99:
                time.sleep(0.002)
        print("sent", count, flush=True)
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("socketcam-lossy-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task The_two_namespaces_see_only_each_other_and_a_datagram_crosses_the_link()
    {
        await using LossyNetwork net = await LossyNetwork.CreateAsync();

        Assert.Matches(@"^10\.199\.\d+\.1$", net.ServerAddress);
        Assert.Equal(net.ServerAddress[..^1] + "2", net.ClientAddress);
        foreach (Side side in new[] { Side.Server, Side.Client })
        {
            // Each namespace has its loopback and its end of the veth, and nothing else: no route out of it.
            CommandResult links = await net.RunAsync(side, "ip", "-j", "address", "show");
            Assert.True(links.ExitCode == 0, links.Stderr);
            using JsonDocument json = JsonDocument.Parse(links.Stdout);
            string[] names = [.. json.RootElement.EnumerateArray().Select(l => l.GetProperty("ifname").GetString()!).Order()];
            Assert.Equal(new[] { "lo", side == Side.Server ? net.ServerInterface : net.ClientInterface }.Order(), names);
            string[] addresses = [.. json.RootElement.EnumerateArray().SelectMany(l => l.GetProperty("addr_info").EnumerateArray())
                .Where(a => a.GetProperty("family").GetString() == "inet").Select(a => a.GetProperty("local").GetString()!).Order()];
            Assert.Equal(new[] { "127.0.0.1", net.Address(side) }.Order(), addresses);
            CommandResult routes = await net.RunAsync(side, "ip", "route", "get", "1.1.1.1");
            Assert.NotEqual(0, routes.ExitCode); // "Network is unreachable": no default route
        }

        await using ChildProcess receiver = net.StartPython(Side.Client, Receiver, "5000", "1");
        await receiver.WaitForStdoutLineAsync(l => l == "ready", ProcessTimeout);
        await using ChildProcess sender = net.StartPython(Side.Server, Sender, net.ClientAddress, "5000", "1");
        Assert.True(await sender.WaitForExitAsync(ProcessTimeout) == 0, sender.Transcript());
        Assert.True(await receiver.WaitForExitAsync(ProcessTimeout) == 0, receiver.Transcript());
        JsonElement result = LastJson(receiver);
        Assert.Equal(1, result.GetProperty("received").GetInt32());
        Assert.Equal(net.ServerAddress, result.GetProperty("from").GetString());

        LinkCounters counters = await net.CountersAsync();
        Assert.Equal(new DirectionCounters(1, 0), counters.ServerToClient);
        Assert.Equal(new DirectionCounters(0, 0), counters.ClientToServer);

        Assert.Equal(1500, net.Mtu);
        await net.SetMtuAsync(1280);
        foreach ((Side side, string device) in new[] { (Side.Server, net.ServerInterface), (Side.Client, net.ClientInterface) })
        {
            CommandResult link = await net.RunAsync(side, "ip", "-j", "link", "show", "dev", device);
            using JsonDocument json = JsonDocument.Parse(link.Stdout);
            Assert.Equal(1280, json.RootElement[0].GetProperty("mtu").GetInt32());
        }
    }

    [Fact]
    public async Task Random_loss_drops_about_the_set_share_of_datagrams_in_the_set_direction_and_can_change_at_run_time()
    {
        const int Count = 2000;
        await using LossyNetwork net = await LossyNetwork.CreateAsync();

        int lossless = await SendDatagramsAsync(net, Side.Server, Count);
        Assert.Equal(Count, lossless);
        Assert.Equal(new LinkCounters(new DirectionCounters(Count, 0), new DirectionCounters(0, 0)), await net.CountersAsync());

        await net.SetLossAsync(serverToClientPercent: 20, clientToServerPercent: 0);
        int lossy = await SendDatagramsAsync(net, Side.Server, Count);
        LinkCounters afterLoss = await net.CountersAsync();
        Assert.InRange(lossy, Count * 70 / 100, Count * 90 / 100);
        // Every datagram reached the client's end of the veth; the ones the rule did not drop reached the program.
        Assert.Equal(2 * Count, afterLoss.ServerToClient.Arrived);
        Assert.Equal(Count - lossy, afterLoss.ServerToClient.Dropped);
        Assert.Equal(new DirectionCounters(0, 0), afterLoss.ClientToServer);

        // The other direction: now client to server loses, server to client does not.
        await net.SetLossAsync(serverToClientPercent: 0, clientToServerPercent: 20);
        Assert.Equal(Count, await SendDatagramsAsync(net, Side.Server, Count));
        int back = await SendDatagramsAsync(net, Side.Client, Count);
        Assert.InRange(back, Count * 70 / 100, Count * 90 / 100);
        LinkCounters end = await net.CountersAsync();
        Assert.Equal(afterLoss.ServerToClient.Dropped, end.ServerToClient.Dropped);
        Assert.Equal(new DirectionCounters(Count, Count - back), end.ClientToServer);
    }

    [Fact]
    public async Task Disposing_kills_what_still_runs_inside_and_deletes_both_namespaces()
    {
        LossyNetwork net = await LossyNetwork.CreateAsync(lossPercent: 10);
        string[] names = [net.ServerNamespace, net.ClientNamespace];
        Assert.All(names, name => Assert.True(File.Exists($"/run/netns/{name}"), name));
        await using ChildProcess sleeper = net.StartPython(Side.Server, "import time; print('ready', flush=True); time.sleep(60)");
        await sleeper.WaitForStdoutLineAsync(l => l == "ready", ProcessTimeout);

        net.Dispose(); // the synchronous one; DisposeAsync does the same
        await sleeper.WaitForExitAsync(ProcessTimeout);
        Assert.All(names, name => Assert.False(File.Exists($"/run/netns/{name}"), name));
        net.Dispose();
        await net.DisposeAsync(); // again: nothing to do
        Assert.Throws<ObjectDisposedException>(() => net.StartCli(Side.Client, "--help"));
    }

    [Fact]
    public async Task A_cli_started_in_a_namespace_is_the_socketcam_process_itself_and_gets_ctrl_c()
    {
        await using LossyNetwork net = await LossyNetwork.CreateAsync();
        string output = Path.Combine(_directory, "never.bin");
        await using CliProcess receive = net.StartCli(Side.Client, "receive-image", "--udp", $"{net.ClientAddress}:0", "--out", output);
        await receive.WaitForStdoutLineAsync(l => l.StartsWith($"listening on udp://{net.ClientAddress}:", StringComparison.Ordinal), ProcessTimeout);

        // `ip netns exec` execs its command: the pid is dotnet running socketcam.dll, inside the client's namespace.
        string commandLine = (await File.ReadAllTextAsync($"/proc/{receive.Id}/cmdline")).Replace('\0', ' ');
        Assert.Contains("socketcam.dll receive-image", commandLine, StringComparison.Ordinal);
        Assert.Equal(await InodeAsync($"/run/netns/{net.ClientNamespace}"), await InodeAsync($"/proc/{receive.Id}/ns/net"));
        Assert.NotEqual(await InodeAsync("/proc/self/ns/net"), await InodeAsync($"/proc/{receive.Id}/ns/net"));

        await receive.InterruptAsync();
        int code = await receive.WaitForExitAsync(ProcessTimeout);
        Assert.True(code == 1, $"exit code {code}{Environment.NewLine}{receive.Transcript()}");
        Assert.Contains(receive.Stderr, l => l.Contains("interrupted before a file was received", StringComparison.Ordinal));
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public async Task Send_image_over_udp_crosses_a_lossy_link_and_the_file_arrives_byte_for_byte(int lossPercent)
    {
        const int Length = 2_000_000;
        byte[] image = TransferTesting.Bytes(Length, seed: 70 + lossPercent);
        string input = Path.Combine(_directory, "big.jpg");
        string output = Path.Combine(_directory, "copy.jpg");
        await File.WriteAllBytesAsync(input, image);
        string crc = Crc32.Format(Crc32.Compute(image));
        await using LossyNetwork net = await LossyNetwork.CreateAsync(lossPercent);

        await using CliProcess receive = net.StartCli(
            Side.Client, "receive-image", "--udp", $"{net.ClientAddress}:0", "--out", output, "--json", "--timeout", "10", "--wait", "20");
        string listening = await receive.WaitForStdoutLineAsync(l => l.StartsWith("listening on udp://", StringComparison.Ordinal), ProcessTimeout);
        Match match = ListeningPattern().Match(listening);
        Assert.True(match.Success, $"unexpected line: {listening}");
        Assert.Equal(net.ClientAddress, match.Groups[1].Value);
        int port = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);

        (int sendCode, CliProcess send) = await net.RunCliAsync(Side.Server, ProcessTimeout, "send-image", $"udp://{net.ClientAddress}:{port}", input, "--json");
        LinkCounters counters = await net.CountersAsync();
        string statistics = await net.StatisticsAsync();
        await using (send)
        {
            Assert.True(sendCode == 0, $"send-image exit code {sendCode} ({net}){Environment.NewLine}{statistics}{Environment.NewLine}{send.Transcript()}{Environment.NewLine}{receive.Transcript()}");
            JsonElement sent = send.LastJsonLine();
            Assert.Equal(Length, sent.GetProperty("bytes").GetInt64());
            Assert.Equal(crc, sent.GetProperty("crc32").GetString());
            long parts = (Length + 1159) / 1160;
            Assert.True(sent.GetProperty("datagrams").GetInt64() >= parts, send.Transcript());
            long retransmitted = sent.GetProperty("retransmitted").GetInt64();
            if (lossPercent == 0)
            {
                // Nothing dropped by the link. (Not "nothing retransmitted": on a busy machine the sender's probe, DATA
                // count-1 again when the ACK is late, or a NACK sent while the sender was descheduled mid-burst, resends
                // parts that were never lost; the protocol allows both.)
                Assert.True(counters.Dropped == 0, statistics);
            }
            else
            {
                // ~5% of ~1725 DATA datagrams: dozens dropped, every one of them sent again (the rare drops of the
                // client's few NACKs and its ACK are in the counters too but need not happen).
                Assert.True(counters.ServerToClient.Dropped >= 20, statistics);
                Assert.True(retransmitted >= counters.ServerToClient.Dropped - 2, $"{retransmitted} retransmitted{Environment.NewLine}{statistics}");
            }
        }

        int receiveCode = await receive.WaitForExitAsync(ProcessTimeout);
        Assert.True(receiveCode == 0, $"receive-image exit code {receiveCode} ({counters}){Environment.NewLine}{receive.Transcript()}");
        Assert.Equal(image, await File.ReadAllBytesAsync(output));
        Assert.Equal(crc, receive.LastJsonLine().GetProperty("crc32").GetString());
        Assert.Empty(TransferTesting.TemporaryFiles(_directory));
    }

    /// <summary>Sends <paramref name="count"/> datagrams from <paramref name="from"/> to the other side; returns how many distinct ones arrived.</summary>
    private static async Task<int> SendDatagramsAsync(LossyNetwork net, Side from, int count)
    {
        Side to = LossyNetwork.Other(from);
        string number = count.ToString(CultureInfo.InvariantCulture);
        await using ChildProcess receiver = net.StartPython(to, Receiver, "5000", number);
        await receiver.WaitForStdoutLineAsync(l => l == "ready", ProcessTimeout);
        await using ChildProcess sender = net.StartPython(from, Sender, net.Address(to), "5000", number);
        Assert.True(await sender.WaitForExitAsync(ProcessTimeout) == 0, sender.Transcript());
        Assert.True(await receiver.WaitForExitAsync(ProcessTimeout) == 0, receiver.Transcript());
        JsonElement result = LastJson(receiver);
        Assert.Equal(0, result.GetProperty("duplicates").GetInt32());
        return result.GetProperty("received").GetInt32();
    }

    private static JsonElement LastJson(ChildProcess process)
    {
        string? line = process.Stdout.LastOrDefault(l => l.StartsWith('{'));
        Assert.True(line is not null, process.Transcript());
        using JsonDocument json = JsonDocument.Parse(line);
        return json.RootElement.Clone();
    }

    private static async Task<string> InodeAsync(string path)
    {
        (int code, byte[] stdout, string stderr) = await MediaTools.RunAsync("stat", "-L", "-c", "%d:%i", path);
        Assert.True(code == 0, $"stat {path}: {stderr}");
        return System.Text.Encoding.ASCII.GetString(stdout).Trim();
    }

    [GeneratedRegex(@"^listening on udp://(10\.199\.\d+\.2):(\d+)$")]
    private static partial Regex ListeningPattern();
}
