namespace SocketCam.Sniff;

/// <summary>
/// A classic BPF program, run by the kernel on every frame before it is queued to the packet socket: only IPv4/IPv6
/// TCP or UDP frames to or from the given ports pass, so `sniff --port` on a busy interface costs the kernel's copy of
/// the frames it wants, not of all of them (what tcpdump's "port N" does). For links that carry an Ethernet header
/// (Ethernet, loopback); VLAN-tagged and IP-fragment frames do not pass (SocketCam sends no fragments).
/// </summary>
internal static class PacketFilter
{
    /// <summary>Ports one filter takes (its jumps are 8-bit).</summary>
    public const int MaxPorts = 32;

    private const ushort LdH = 0x28, LdB = 0x30, LdHInd = 0x48, LdxMsh = 0xB1, JEq = 0x15, JSet = 0x45, Ja = 0x05, Ret = 0x06;

    /// <summary>Whether the named interface's frames start with an Ethernet header (Ethernet, loopback), which the filter assumes.</summary>
    public static bool Fits(string interfaceName) =>
        File.Exists($"/sys/class/net/{interfaceName}/type")
        && File.ReadAllText($"/sys/class/net/{interfaceName}/type").Trim() is "1" or "772";

    /// <summary>The program as struct sock_filter[] bytes (8 each: code, jt, jf, k), in host order.</summary>
    public static byte[] ForPorts(IReadOnlyCollection<int> ports)
    {
        if (ports.Count is 0 or > MaxPorts)
        {
            throw new ArgumentException($"a packet filter takes 1 to {MaxPorts} ports.");
        }

        var p = new Program();
        p.Op(LdH, 12); // ethertype
        p.Jump(JEq, 0x0800, "ipv4", "not-ipv4");
        p.Label("ipv4");
        p.Op(LdB, 23); // protocol
        p.Jump(JEq, 6, "ipv4-ports", "ipv4-udp?");
        p.Label("ipv4-udp?");
        p.Jump(JEq, 17, "ipv4-ports", "drop");
        p.Label("ipv4-ports");
        p.Op(LdH, 20);
        p.Jump(JSet, 0x1FFF, "drop", "ipv4-header"); // a fragment
        p.Label("ipv4-header");
        p.Op(LdxMsh, 14); // X = the IPv4 header's length
        p.Op(LdHInd, 14); // source port
        Ports(p, ports, "accept");
        p.Op(LdHInd, 16); // destination port
        Ports(p, ports, "accept");
        p.Jump(Ja, 0, "drop", "drop");
        p.Label("not-ipv4");
        p.Jump(JEq, 0x86DD, "ipv6", "drop");
        p.Label("ipv6");
        p.Op(LdB, 20); // next header (extension headers: SocketCam sends none)
        p.Jump(JEq, 6, "ipv6-ports", "ipv6-udp?");
        p.Label("ipv6-udp?");
        p.Jump(JEq, 17, "ipv6-ports", "drop");
        p.Label("ipv6-ports");
        p.Op(LdH, 54);
        Ports(p, ports, "accept");
        p.Op(LdH, 56);
        Ports(p, ports, "accept");
        p.Label("drop");
        p.Op(Ret, 0);
        p.Label("accept");
        p.Op(Ret, 0x40000); // the whole frame (up to 256 KiB)
        return p.Assemble();
    }

    private static void Ports(Program p, IReadOnlyCollection<int> ports, string accept)
    {
        int i = 0;
        foreach (int port in ports)
        {
            string next = $"port-{p.Count}-{i++}";
            p.Jump(JEq, (uint)port, accept, next);
            p.Label(next);
        }
    }

    /// <summary>Instructions with named jump targets, resolved to BPF's relative offsets at the end.</summary>
    private sealed class Program
    {
        private readonly List<(ushort Code, string? True, string? False, uint K)> _code = [];
        private readonly Dictionary<string, int> _labels = [];

        public int Count => _code.Count;

        public void Op(ushort code, uint k) => _code.Add((code, null, null, k));

        public void Jump(ushort code, uint k, string whenTrue, string whenFalse) => _code.Add((code, whenTrue, whenFalse, k));

        public void Label(string name) => _labels[name] = _code.Count;

        public byte[] Assemble()
        {
            byte[] bytes = new byte[_code.Count * 8];
            for (int i = 0; i < _code.Count; i++)
            {
                (ushort code, string? t, string? f, uint k) = _code[i];
                Span<byte> s = bytes.AsSpan(i * 8, 8);
                BitConverter.TryWriteBytes(s, code); // host order, as the kernel reads struct sock_filter
                if (code == Ja)
                {
                    k = (uint)Offset(i, t!); // an unconditional jump takes its offset in k
                }
                else if (t is not null)
                {
                    s[2] = (byte)Offset(i, t);
                    s[3] = (byte)Offset(i, f!);
                }

                BitConverter.TryWriteBytes(s[4..], k);
            }

            return bytes;
        }

        private int Offset(int from, string label)
        {
            int offset = _labels[label] - from - 1;
            if (offset is < 0 or > 255)
            {
                throw new InvalidOperationException($"BPF jump to {label} out of reach ({offset})");
            }

            return offset;
        }
    }
}
