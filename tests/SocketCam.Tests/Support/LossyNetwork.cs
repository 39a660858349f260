using System.Diagnostics;
using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SocketCam.Tests.Support;

/// <summary>
/// A real lossy link: two network namespaces of their own (the server side and the client side) joined by a veth pair,
/// 10.199.N.1/24 on the server side and 10.199.N.2/24 on the client side, with nftables dropping packets at random in
/// each direction (<c>numgen random mod 100 &lt; P drop</c>; tc netem is not available on these kernels). Programs run
/// inside a namespace with <c>ip netns exec</c>, which execs them: the child process is the program itself, so its pid,
/// output and Ctrl+C are its own. Nothing leaves the two namespaces: they see only each other and their own loopback.
/// <para>
/// Loss is applied where packets arrive (an nftables prerouting chain on each side, matching the veth), not where they
/// leave: a drop in the sender's output hook makes its <c>sendto</c> fail with EPERM, which is a local error and not
/// what a lossy network does. Each side's table also counts every packet that arrived on the veth and every packet the
/// rule dropped (named counters, so they keep counting across <see cref="SetLossAsync(int, int)"/>).
/// </para>
/// <para>
/// Needs root (CI has it): without it, or when <c>ip netns add</c> fails, <see cref="CreateAsync"/> throws with a one-line
/// message rather than letting a test skip. Disposing kills every process still in the namespaces and deletes them
/// (which deletes the veth pair and the nftables tables); namespaces left by an earlier test run that died are deleted
/// the first time a network is created.
/// </para>
/// </summary>
internal sealed partial class LossyNetwork : IAsyncDisposable, IDisposable
{
    /// <summary>Which end of the link: the server's namespace (10.199.N.1) or the client's (10.199.N.2).</summary>
    public enum Side
    {
        Server,
        Client,
    }

    private const string Prefix = "sc-";
    private const string Table = "socketcam";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(20);
    private static readonly Lock StaticLock = new();
    private static int s_next;
    private static Task? s_sweep;

    private readonly int _subnet;
    private int _disposed;

    private LossyNetwork(int subnet, string serverNamespace, string clientNamespace)
    {
        _subnet = subnet;
        ServerNamespace = serverNamespace;
        ClientNamespace = clientNamespace;
    }

    /// <summary>The server side's namespace name (for `ip netns exec`).</summary>
    public string ServerNamespace { get; }

    /// <summary>The client side's namespace name.</summary>
    public string ClientNamespace { get; }

    /// <summary>The server side's address on the link, 10.199.N.1.</summary>
    public string ServerAddress => $"10.199.{_subnet}.1";

    /// <summary>The client side's address on the link, 10.199.N.2.</summary>
    public string ClientAddress => $"10.199.{_subnet}.2";

    /// <summary>The veth's name on the server side (the same name on the client side, in its own namespace, is <see cref="ClientInterface"/>).</summary>
    public string ServerInterface => $"scv{_subnet}s";

    public string ClientInterface => $"scv{_subnet}c";

    /// <summary>Loss from the server to the client, in percent, as last set.</summary>
    public int ServerToClientLoss { get; private set; }

    /// <summary>Loss from the client to the server, in percent, as last set.</summary>
    public int ClientToServerLoss { get; private set; }

    /// <summary>The link's MTU, as last set (1500 unless chosen).</summary>
    public int Mtu { get; private set; } = 1500;

    public string Namespace(Side side) => side == Side.Server ? ServerNamespace : ClientNamespace;

    public string Address(Side side) => side == Side.Server ? ServerAddress : ClientAddress;

    /// <summary>The other side's address, the one a program on <paramref name="side"/> sends to.</summary>
    public string PeerAddress(Side side) => Address(Other(side));

    public static Side Other(Side side) => side == Side.Server ? Side.Client : Side.Server;

    /// <summary>
    /// Creates the two namespaces, the veth pair between them and the loss rules (~0.1 s). <paramref name="lossPercent"/>
    /// applies both ways; <paramref name="mtu"/> is the link's MTU (default 1500).
    /// </summary>
    public static async Task<LossyNetwork> CreateAsync(int lossPercent = 0, int? mtu = null)
    {
        ValidatePercent(lossPercent, nameof(lossPercent));
        await SweepLeftoversOnceAsync();
        int n = Interlocked.Increment(ref s_next);
        // N is unique within this test run; namespaces have their own addresses and routes, so another run's 10.199.N.x
        // (or the host's) could never clash with ours anyway. 1..250, wrapping for very long runs.
        int subnet = ((n - 1) % 250) + 1;
        string stem = $"{Prefix}{Environment.ProcessId}-{n}";
        var network = new LossyNetwork(subnet, stem + "-s", stem + "-c");
        await network.AddNamespaceAsync(network.ServerNamespace);
        try
        {
            await network.AddNamespaceAsync(network.ClientNamespace);
            await network.ConfigureAsync(mtu ?? 1500);
            await network.SetLossAsync(lossPercent, lossPercent);
            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sets the same random loss both ways (0 = none).</summary>
    public Task SetLossAsync(int percent) => SetLossAsync(percent, percent);

    /// <summary>
    /// Sets the random loss of each direction in percent (0 = none, 100 = everything), replacing the rule at once: packets
    /// already in flight are judged by the new rule.
    /// </summary>
    public async Task SetLossAsync(int serverToClientPercent, int clientToServerPercent)
    {
        ValidatePercent(serverToClientPercent, nameof(serverToClientPercent));
        ValidatePercent(clientToServerPercent, nameof(clientToServerPercent));
        // Packets to the client are dropped as they arrive at the client, and the other way round.
        await Task.WhenAll(
            SetDropRuleAsync(ClientNamespace, serverToClientPercent),
            SetDropRuleAsync(ServerNamespace, clientToServerPercent));
        ServerToClientLoss = serverToClientPercent;
        ClientToServerLoss = clientToServerPercent;
    }

    /// <summary>Sets the MTU of both ends of the link (e.g. 1280 to check that a protocol keeps its datagrams small).</summary>
    public async Task SetMtuAsync(int mtu)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mtu, 1280);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(mtu, 65535);
        string value = mtu.ToString(CultureInfo.InvariantCulture);
        await RunCheckedAsync("ip", "-n", ServerNamespace, "link", "set", ServerInterface, "mtu", value);
        await RunCheckedAsync("ip", "-n", ClientNamespace, "link", "set", ClientInterface, "mtu", value);
        Mtu = mtu;
    }

    /// <summary>What nftables counted on each side so far: packets that arrived over the veth, and the ones dropped.</summary>
    public async Task<LinkCounters> CountersAsync()
    {
        Task<DirectionCounters> toClient = ReadCountersAsync(ClientNamespace);
        Task<DirectionCounters> toServer = ReadCountersAsync(ServerNamespace);
        return new LinkCounters(await toClient, await toServer);
    }

    /// <summary>
    /// For failure messages: nftables' counters, and where else packets were lost on each side, which the loss rule
    /// does not count: a receiving socket's full buffer (UDP RcvbufErrors, as with a program too slow to read a burst),
    /// or the veth's receive queue (its rx dropped; the per-CPU backlog holds netdev_max_backlog = 1000 packets).
    /// </summary>
    public async Task<string> StatisticsAsync()
    {
        var text = new StringBuilder((await CountersAsync()).ToString());
        foreach (Side side in new[] { Side.Server, Side.Client })
        {
            CommandResult snmp = await RunAsync(side, "cat", "/proc/net/snmp");
            string[] udp = [.. snmp.Stdout.Split('\n').Where(l => l.StartsWith("Udp:", StringComparison.Ordinal))];
            string counters = udp.Length == 2
                ? string.Join(", ", udp[0].Split(' ').Skip(1).Zip(udp[1].Split(' ').Skip(1)).Where(p => p.First is "InDatagrams" or "OutDatagrams" or "RcvbufErrors" or "SndbufErrors" or "InErrors" or "NoPorts").Select(p => $"{p.First} {p.Second}"))
                : snmp.Stderr.Trim();
            CommandResult link = await RunCommandAsync("ip", ["-n", Namespace(side), "-j", "-s", "link", "show", "dev", side == Side.Server ? ServerInterface : ClientInterface], null);
            string rx = "";
            if (link.ExitCode == 0)
            {
                using JsonDocument json = JsonDocument.Parse(link.Stdout);
                JsonElement stats = json.RootElement[0].GetProperty("stats64").GetProperty("rx");
                rx = $"; veth rx {stats.GetProperty("packets").GetInt64()} packets, {stats.GetProperty("dropped").GetInt64()} dropped";
            }

            text.Append(CultureInfo.InvariantCulture, $"{Environment.NewLine}{Label(side)}: UDP {counters}{rx}");
        }

        return text.ToString();
    }

    /// <summary>Starts the real `socketcam` CLI inside <paramref name="side"/>'s namespace (output captured, Ctrl+C reaches it).</summary>
    public CliProcess StartCli(Side side, params string[] args) => StartCliWithEnvironment(side, null, args);

    /// <summary>Like <see cref="StartCli"/>, with extra environment variables.</summary>
    public CliProcess StartCliWithEnvironment(Side side, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        ThrowIfDisposed();
        return CliProcess.StartThrough(
            ["ip", "netns", "exec", Namespace(side)], $"[{Label(side)}] socketcam {string.Join(' ', args)}", null, environment, args);
    }

    /// <summary>Runs the CLI in <paramref name="side"/>'s namespace to completion (killed after <paramref name="timeout"/>, which fails the test).</summary>
    public async Task<(int ExitCode, CliProcess Process)> RunCliAsync(Side side, TimeSpan timeout, params string[] args)
    {
        CliProcess cli = StartCli(side, args);
        try
        {
            return (await cli.WaitForExitAsync(timeout), cli);
        }
        catch
        {
            await cli.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts any program inside <paramref name="side"/>'s namespace, output captured line by line.</summary>
    public ChildProcess Start(Side side, string fileName, params string[] args)
    {
        ThrowIfDisposed();
        return ChildProcess.Start(
            $"[{Label(side)}] {fileName} {string.Join(' ', args)}",
            "ip",
            ["netns", "exec", Namespace(side), fileName, .. args],
            AppContext.BaseDirectory,
            new Dictionary<string, string?>(),
            transcriptLines: 60);
    }

    /// <summary>Starts Debian's python3 inside <paramref name="side"/>'s namespace with a program given as text (`python3 -u -c CODE ARGS`).</summary>
    public ChildProcess StartPython(Side side, string code, params string[] args)
    {
        ThrowIfDisposed();
        return ChildProcess.Start(
            $"[{Label(side)}] python3 -c ... {string.Join(' ', args)}",
            "ip",
            ["netns", "exec", Namespace(side), PythonProgram.Interpreter, "-u", "-c", code, .. args],
            AppContext.BaseDirectory,
            new Dictionary<string, string?> { ["PYTHONDONTWRITEBYTECODE"] = "1" },
            transcriptLines: 60);
    }

    /// <summary>Runs a program inside <paramref name="side"/>'s namespace to completion; returns its exit code and output.</summary>
    public Task<CommandResult> RunAsync(Side side, string fileName, params string[] args)
    {
        ThrowIfDisposed();
        return RunCommandAsync("ip", ["netns", "exec", Namespace(side), fileName, .. args], null);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await Task.WhenAll(DeleteNamespaceAsync(ServerNamespace), DeleteNamespaceAsync(ClientNamespace));
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        // On the thread pool: blocking a test framework's synchronization context on its own continuations could deadlock.
        Task.Run(() => Task.WhenAll(DeleteNamespaceAsync(ServerNamespace), DeleteNamespaceAsync(ClientNamespace))).GetAwaiter().GetResult();
    }

    public override string ToString() =>
        $"{ServerNamespace} ({ServerAddress}) <-> {ClientNamespace} ({ClientAddress}), loss {ServerToClientLoss}% / {ClientToServerLoss}%";

    private static string Label(Side side) => side == Side.Server ? "server" : "client";

    private static void ValidatePercent(int percent, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(percent, name);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percent, 100, name);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);

    private async Task AddNamespaceAsync(string name)
    {
        CommandResult result;
        try
        {
            result = await RunCommandAsync("ip", ["netns", "add", name], null);
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException($"the lossy-network tests need iproute2's `ip` ({ex.Message}): scripts/setup installs it.", ex);
        }

        if (result.ExitCode != 0)
        {
            string why = FirstLine(result.Stderr);
            string who = Environment.IsPrivilegedProcess ? "" : $"; this process runs as {Environment.UserName}, not root";
            throw new InvalidOperationException(
                $"the lossy-network tests need root to create network namespaces (ip netns add {name} failed: {why}{who}): run the tests as root, as CI does.");
        }
    }

    private async Task ConfigureAsync(int mtu)
    {
        // The veth's two ends are created straight inside their namespaces: the host's namespace never sees them.
        // Fixed MAC addresses (locally administered) so that each side can be told the other's: see ConfigureSideAsync.
        await RunCheckedAsync(
            "ip", "link", "add", ServerInterface, "address", Mac(Side.Server), "netns", ServerNamespace, "type", "veth",
            "peer", "name", ClientInterface, "address", Mac(Side.Client), "netns", ClientNamespace);
        await Task.WhenAll(
            ConfigureSideAsync(ServerNamespace, ServerInterface, ServerAddress, ClientAddress, Mac(Side.Client), mtu),
            ConfigureSideAsync(ClientNamespace, ClientInterface, ClientAddress, ServerAddress, Mac(Side.Server), mtu));
        Mtu = mtu;
    }

    private string Mac(Side side) => $"02:53:43:00:{_subnet:x2}:{(side == Side.Server ? 1 : 2):x2}";

    private static async Task ConfigureSideAsync(string ns, string device, string address, string peerAddress, string peerMac, int mtu)
    {
        // addrgenmode none: no IPv6 link-local address, so no neighbour discovery or router solicitations on the link.
        // A permanent neighbour entry for the peer: no ARP at all, so the first burst a test sends is not held (and
        // partly dropped: the unresolved queue holds ~200 KB) while the peer's address is being resolved. So nothing but
        // the tests' own traffic crosses the link, and all of it is counted.
        string batch = string.Join('\n',
            "link set lo up",
            $"link set {device} addrgenmode none",
            $"link set {device} mtu {mtu.ToString(CultureInfo.InvariantCulture)}",
            $"address add {address}/24 dev {device}",
            $"link set {device} up",
            $"neighbour replace {peerAddress} lladdr {peerMac} dev {device} nud permanent",
            "");
        CommandResult ip = await RunCommandAsync("ip", ["-n", ns, "-batch", "-"], batch);
        Check(ip, $"ip -n {ns} -batch (set up {device})");

        string ruleset = $$"""
            table inet {{Table}} {
              counter arrived { }
              counter dropped { }
              chain loss { }
              chain in {
                type filter hook prerouting priority raw; policy accept;
                iifname "{{device}}" counter name "arrived" jump loss
              }
            }
            """;
        CommandResult nft;
        try
        {
            nft = await RunCommandAsync("ip", ["netns", "exec", ns, "nft", "-f", "-"], ruleset);
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException($"the lossy-network tests need `ip` and `nft` ({ex.Message}): scripts/setup installs iproute2 and nftables.", ex);
        }

        if (nft.ExitCode != 0 && nft.Stderr.Contains("exec of \"nft\" failed", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("the lossy-network tests need nftables' `nft`, which is missing: scripts/setup installs it.");
        }

        Check(nft, $"nft -f (the loss table in {ns})");
    }

    private async Task SetDropRuleAsync(string ns, int percent)
    {
        ThrowIfDisposed();
        var script = new StringBuilder($"flush chain inet {Table} loss\n");
        if (percent > 0)
        {
            script.Append(CultureInfo.InvariantCulture, $"add rule inet {Table} loss numgen random mod 100 < {percent} counter name \"dropped\" drop\n");
        }

        // One nft transaction: the chain is never seen half-changed.
        Check(await RunCommandAsync("ip", ["netns", "exec", ns, "nft", "-f", "-"], script.ToString()), $"nft (set {percent}% loss in {ns})");
    }

    private async Task<DirectionCounters> ReadCountersAsync(string ns)
    {
        ThrowIfDisposed();
        CommandResult result = await RunCommandAsync("ip", ["netns", "exec", ns, "nft", "-j", "list", "counters", "table", "inet", Table], null);
        Check(result, $"nft -j list counters (in {ns})");
        long arrived = -1, dropped = -1;
        using JsonDocument json = JsonDocument.Parse(result.Stdout);
        foreach (JsonElement item in json.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (item.TryGetProperty("counter", out JsonElement counter))
            {
                long packets = counter.GetProperty("packets").GetInt64();
                switch (counter.GetProperty("name").GetString())
                {
                    case "arrived":
                        arrived = packets;
                        break;
                    case "dropped":
                        dropped = packets;
                        break;
                }
            }
        }

        Assert.True(arrived >= 0 && dropped >= 0, $"nft did not list both counters of {ns}: {result.Stdout}");
        return new DirectionCounters(arrived, dropped);
    }

    private static async Task DeleteNamespaceAsync(string ns)
    {
        // Kill whatever still runs inside (a test that failed before disposing its processes, their children), then
        // delete the name: with no process left the namespace goes, and with it its end of the veth pair (the other end
        // too) and its nftables table.
        CommandResult pids = await RunCommandAsync("ip", ["netns", "pids", ns], null);
        foreach (string line in pids.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(line, CultureInfo.InvariantCulture, out int pid))
            {
                try
                {
                    using Process process = Process.GetProcessById(pid);
                    process.Kill();
                    await process.WaitForExitAsync().WaitAsync(CommandTimeout);
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or Win32Exception)
                {
                    // Already gone.
                }
            }
        }

        await RunCommandAsync("ip", ["netns", "del", ns], null);
    }

    /// <summary>
    /// Deletes namespaces named by this class whose test run is gone (its pid no longer exists): a run killed before it
    /// could dispose leaves them behind. Another live run's namespaces (or anything not named like ours) are left alone.
    /// </summary>
    private static Task SweepLeftoversOnceAsync()
    {
        lock (StaticLock)
        {
            return s_sweep ??= SweepLeftoversAsync();
        }
    }

    private static async Task SweepLeftoversAsync()
    {
        if (!Directory.Exists("/run/netns"))
        {
            return;
        }

        foreach (string path in Directory.GetFiles("/run/netns"))
        {
            Match match = OurNamespace().Match(Path.GetFileName(path));
            if (match.Success && int.TryParse(match.Groups[1].Value, CultureInfo.InvariantCulture, out int pid)
                && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}"))
            {
                await DeleteNamespaceAsync(Path.GetFileName(path));
            }
        }
    }

    [GeneratedRegex(@"^sc-(\d+)-\d+-[sc]$")]
    private static partial Regex OurNamespace();

    private static async Task RunCheckedAsync(string fileName, params string[] args) =>
        Check(await RunCommandAsync(fileName, args, null), $"{fileName} {string.Join(' ', args)}");

    private static void Check(CommandResult result, string what) =>
        Assert.True(result.ExitCode == 0, $"{what} failed ({result.ExitCode}): {result.Stderr.Trim()}");

    private static string FirstLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "no message";

    private static async Task<CommandResult> RunCommandAsync(string fileName, IEnumerable<string> args, string? stdin)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync().WaitAsync(CommandTimeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish within {CommandTimeout.TotalSeconds:0} s.");
        }

        return new CommandResult(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>A finished command: exit code and everything it printed.</summary>
internal sealed record CommandResult(int ExitCode, string Stdout, string Stderr);

/// <summary>nftables' counts for one direction, taken where the packets arrive: all that came over the veth, and the dropped.</summary>
internal sealed record DirectionCounters(long Arrived, long Dropped)
{
    /// <summary>The packets that got past the loss rule, to the receiving side's IP stack.</summary>
    public long Delivered => Arrived - Dropped;
}

/// <summary>Both directions' counts of a <see cref="LossyNetwork"/>.</summary>
internal sealed record LinkCounters(DirectionCounters ServerToClient, DirectionCounters ClientToServer)
{
    public long Dropped => ServerToClient.Dropped + ClientToServer.Dropped;

    public override string ToString() =>
        $"server->client: {ServerToClient.Arrived} arrived, {ServerToClient.Dropped} dropped; client->server: {ClientToServer.Arrived} arrived, {ClientToServer.Dropped} dropped";
}
