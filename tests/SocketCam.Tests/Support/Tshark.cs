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

    /// <summary>The packets matching <paramref name="filter"/>, a line each (number, protocols, Info column): what a failed assertion shows.</summary>
    public Task<List<string>> DescribeAsync(string filter) => FieldsAsync(filter, "frame.number", "frame.protocols", "_ws.col.Info");

    /// <summary>
    /// Every value of each of <paramref name="fields"/> in the whole capture, counted (several messages in a segment
    /// each count), read in one pass of tshark; text fields (a chat message) are kept as they are in <see cref="FieldCounts.Texts"/>.
    /// </summary>
    public async Task<FieldCounts> CountAsync(params string[] fields)
    {
        var counts = new FieldCounts();
        foreach (string line in await FieldsAsync(null, fields))
        {
            string[] columns = line.Split('\t');
            for (int i = 0; i < fields.Length && i < columns.Length; i++)
            {
                foreach (string value in columns[i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    counts.Add(fields[i], value);
                }
            }
        }

        return counts;
    }
}

/// <summary>Values of tshark fields across a capture: numbers counted by value, and every value as text.</summary>
internal sealed class FieldCounts
{
    private readonly Dictionary<string, Dictionary<long, int>> _numbers = [];
    private readonly Dictionary<string, List<string>> _texts = [];

    public void Add(string field, string value)
    {
        if (!_texts.TryGetValue(field, out List<string>? texts))
        {
            _texts[field] = texts = [];
            _numbers[field] = [];
        }

        texts.Add(value);
        bool hex = value.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (long.TryParse(hex ? value.AsSpan(2) : value, hex ? NumberStyles.HexNumber : NumberStyles.Integer, CultureInfo.InvariantCulture, out long number))
        {
            Dictionary<long, int> numbers = _numbers[field];
            numbers[number] = numbers.GetValueOrDefault(number) + 1;
        }
    }

    /// <summary>How many times <paramref name="field"/> had <paramref name="value"/>.</summary>
    public int Of(string field, long value) => _numbers.TryGetValue(field, out Dictionary<long, int>? n) ? n.GetValueOrDefault(value) : 0;

    /// <summary>How many values <paramref name="field"/> had in all.</summary>
    public int Total(string field) => _texts.TryGetValue(field, out List<string>? t) ? t.Count : 0;

    public IReadOnlyList<string> Texts(string field) => _texts.TryGetValue(field, out List<string>? t) ? t : [];
}
