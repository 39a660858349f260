using System.Globalization;

namespace SocketCam.Tests.Support;

/// <summary>Debian's real tshark reading a capture with the repository's Wireshark dissector (tools/wireshark/socketcam.lua).</summary>
internal static class Tshark
{
    public static string Dissector => RepositoryFiles.PathOf("tools", "wireshark", "socketcam.lua");

    /// <summary>What Wireshark itself calls broken: a malformed-packet exception or an expert item of severity error.</summary>
    public const string MalformedFilter = "_ws.malformed || _ws.expert.severity >= error";

    /// <summary>One line per packet matching <paramref name="filter"/>: the values of <paramref name="fields"/>, every occurrence, tab between fields and commas within.</summary>
    public static async Task<List<string>> FieldsAsync(string pcap, string? filter, params string[] fields)
    {
        List<string> args = ["-n", "-r", pcap, "-X", $"lua_script:{Dissector}", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"];
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
    public static async Task<int> PacketsAsync(string pcap, string filter) => (await FieldsAsync(pcap, filter, "frame.number")).Count;

    /// <summary>How often <paramref name="field"/> has each value in the whole capture (every occurrence: several messages per segment).</summary>
    public static async Task<Dictionary<long, int>> ValueCountsAsync(string pcap, string field, string? filter = null)
    {
        var counts = new Dictionary<long, int>();
        foreach (string line in await FieldsAsync(pcap, filter, field))
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
