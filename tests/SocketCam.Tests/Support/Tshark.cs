using System.Globalization;

namespace SocketCam.Tests.Support;

/// <summary>
/// A capture read by Debian's real tshark with the repository's Wireshark dissector (tools/wireshark/socketcam.lua). The
/// ports SocketCam used are given to the dissector's port preferences, as a user would ("Decode As"): a test's random
/// port may be one Wireshark gives to another protocol, and a port dissector runs before any heuristic.
/// </summary>
internal sealed class Tshark(string pcap, params int[] ports)
{
    public static string Dissector => RepositoryFiles.PathOf("tools", "wireshark", "socketcam.lua");

    /// <summary>What Wireshark itself calls broken: a malformed-packet exception or an expert item of severity error.</summary>
    public const string MalformedFilter = "_ws.malformed || _ws.expert.severity >= error";

    /// <summary>
    /// Datagrams, and TCP segments with data, that the dissector neither read nor took into a message it reassembled
    /// (a segment in the middle of a video frame shows only as part of the frame), leaving aside TCP's retransmissions,
    /// which Wireshark never hands to a dissector twice.
    /// </summary>
    public const string NotDissectedFilter = "(udp || tcp.len > 0) && !socketcam && !tcp.reassembled_in && !tcp.analysis.retransmission";

    /// <summary>Two passes (-2), so a segment knows the frame its message was reassembled in. One line per packet matching <paramref name="filter"/>: the values of <paramref name="fields"/>, every occurrence, tab between fields and commas within.</summary>
    public async Task<List<string>> FieldsAsync(string? filter, params string[] fields)
    {
        string portList = string.Join(',', ports);
        List<string> args = ["-2", "-n", "-r", pcap, "-X", $"lua_script:{Dissector}", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"];
        if (ports.Length > 0)
        {
            args.AddRange(["-o", $"socketcam.tcp_ports:{portList}", "-o", $"socketcam.udp_ports:{portList}"]);
        }

        if (filter is not null)
        {
            args.AddRange(["-Y", filter]);
        }

        foreach (string field in fields)
        {
            args.AddRange(["-e", field]);
        }

        (int code, byte[] stdout, string stderr) = await MediaTools.RunAsync("tshark", [.. args]);
        string output = System.Text.Encoding.UTF8.GetString(stdout);
        Assert.True(code == 0 && !stderr.Contains("Lua: Error", StringComparison.Ordinal), $"tshark {string.Join(' ', args)} exited with {code}:{Environment.NewLine}{stderr}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    /// <summary>Packets matching <paramref name="filter"/>.</summary>
    public async Task<int> PacketsAsync(string filter) => (await FieldsAsync(filter, "frame.number")).Count;

    /// <summary>The packets matching <paramref name="filter"/>, a line each (number, protocols, Info column): what a failed assertion shows.</summary>
    public Task<List<string>> DescribeAsync(string filter) => FieldsAsync(filter, "frame.number", "frame.protocols", "_ws.col.Info");

    /// <summary>How often <paramref name="field"/> has each value in the whole capture (every occurrence: several messages per segment).</summary>
    public async Task<Dictionary<long, int>> ValueCountsAsync(string field, string? filter = null)
    {
        var counts = new Dictionary<long, int>();
        foreach (string line in await FieldsAsync(filter, field))
        {
            foreach (string value in line.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                long v = value.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                    ? long.Parse(value.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                    : long.Parse(value, CultureInfo.InvariantCulture);
                counts[v] = counts.GetValueOrDefault(v) + 1;
            }
        }

        return counts;
    }
}
