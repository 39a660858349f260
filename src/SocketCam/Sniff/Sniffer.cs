using SocketCam.Udp;

namespace SocketCam.Sniff;

/// <summary>What <c>socketcam sniff</c> follows and keeps (docs/SNIFF.md).</summary>
internal sealed record SnifferOptions
{
    /// <summary>Only traffic to or from these ports (either end); empty: every port, SocketCam told by its content.</summary>
    public IReadOnlySet<int> Ports { get; init; } = new HashSet<int>();

    /// <summary>Sessions kept for the figures (ended ones go first when there are more). Default 4096.</summary>
    public int MaxSessions { get; init; } = 4096;
}

/// <summary>
/// The sniffer's core, without the socket: captured frames in, SocketCam sessions and their figures out. TCP
/// connections are followed from their SYN (or from a segment that starts with a native header, for sessions already
/// under way), reassembled per direction and read by a <see cref="StreamDissector"/>; UDP flows that carry SCUV or SCIM
/// datagrams by a <see cref="DatagramDissector"/>. With a <see cref="PcapWriter"/> every frame of a SocketCam session is
/// written, the connection's opening ones included (held until its first bytes told what it is); with ports given,
/// every frame on them. Not thread-safe: callers hold <see cref="Sync"/>.
/// </summary>
internal sealed class Sniffer(SnifferOptions options, PcapWriter? pcap = null)
{
    private const int MaxHeldFrames = 64;
    private const long TcpIdleMicros = 120_000_000;
    private const long UdpIdleMicros = 10_000_000;

    private readonly Dictionary<FlowKey, TcpFlow> _tcp = [];
    private readonly Dictionary<FlowKey, UdpFlow> _udp = [];
    private readonly HashSet<FlowKey> _ignored = [];
    private readonly List<SessionFigures> _sessions = [];

    public object Sync { get; } = new();

    /// <summary>Every frame handed in, the ones parsed as TCP or UDP over IP, and those that belonged to a SocketCam session.</summary>
    public long Frames { get; private set; }
    public long IpFrames { get; private set; }
    public long SocketCamFrames { get; private set; }

    public IReadOnlyList<SessionFigures> Sessions => _sessions;

    public void OnFrame(ReadOnlySpan<byte> frame, int originalLength, PacketOrigin origin, long nowMicros)
    {
        if (origin.HardwareType == PacketSocket.HardwareLoopback && origin.PacketType == PacketSocket.PacketOutgoing)
        {
            return; // loopback shows each frame twice, leaving and arriving: the arriving copy is the one kept
        }

        Frames++;
        bool ethernet = origin.HardwareType is PacketSocket.HardwareEthernet or PacketSocket.HardwareLoopback;
        if (!PacketHeaders.TryParse(frame, ethernet, out PacketHeaders h))
        {
            return;
        }

        IpFrames++;
        bool onPorts = options.Ports.Count > 0 && (options.Ports.Contains(h.SourcePort) || options.Ports.Contains(h.DestinationPort));
        if (options.Ports.Count > 0 && !onPorts)
        {
            return;
        }

        ReadOnlySpan<byte> payload = h.PayloadOffset < frame.Length
            ? frame.Slice(h.PayloadOffset, Math.Min(h.PayloadLength, frame.Length - h.PayloadOffset))
            : [];
        bool keep = h.Transport == TransportKind.Tcp
            ? Tcp(in h, payload, frame, originalLength, ethernet, nowMicros)
            : Udp(in h, payload, nowMicros);
        if (keep)
        {
            SocketCamFrames++;
        }

        if (pcap is not null && (keep || onPorts))
        {
            pcap.Write(nowMicros, frame, originalLength, ethernet);
        }
    }

    /// <summary>
    /// Closes an interval: rates per track (with <paramref name="final"/>, each session's averages), idle flows retired.
    /// Returns the sessions (read them under <see cref="Sync"/>).
    /// </summary>
    public IReadOnlyList<SessionFigures> Tick(long nowMicros, bool final = false)
    {
        foreach (SessionFigures s in _sessions)
        {
            s.Tick(nowMicros, final);
        }

        Retire(_tcp, nowMicros, TcpIdleMicros);
        Retire(_udp, nowMicros, UdpIdleMicros);
        if (_ignored.Count > 100_000)
        {
            _ignored.Clear();
        }

        pcap?.Flush();
        return _sessions;
    }

    private static void Retire<T>(Dictionary<FlowKey, T> flows, long nowMicros, long idle) where T : Flow
    {
        foreach ((FlowKey key, T flow) in flows)
        {
            if (nowMicros - flow.LastSeenMicros > idle)
            {
                flow.Figures.Ended = true;
                flows.Remove(key);
            }
        }
    }

    private bool Tcp(in PacketHeaders h, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> frame, int originalLength, bool ethernet, long now)
    {
        var key = FlowKey.Of(in h);
        bool syn = (h.TcpFlags & PacketHeaders.Syn) != 0;
        bool ack = (h.TcpFlags & PacketHeaders.Ack) != 0;
        if (!_tcp.TryGetValue(key, out TcpFlow? flow))
        {
            if (syn && !ack)
            {
                _ignored.Remove(key); // a new connection on a reused port pair
                flow = NewTcpFlow(in h, clientIsSource: true, midStream: false, now);
                flow.ClientToServer.Syn(h.Sequence);
                flow.Hold(frame, originalLength, ethernet, now);
                return false;
            }

            if (payload.IsEmpty || _ignored.Contains(key))
            {
                return false;
            }

            bool opening = payload.Length >= 4 && (StartsWith(payload, "SCAM") || StartsWith(payload, "SCIM"));
            if (!opening && !StreamDissector.LooksLikeHeader(payload))
            {
                _ignored.Add(key);
                return false;
            }

            // A connection already under way: its client is the end that is not on a given port, else the higher port.
            bool clientIsSource = options.Ports.Contains(h.DestinationPort) || (!options.Ports.Contains(h.SourcePort) && h.SourcePort > h.DestinationPort);
            flow = NewTcpFlow(in h, clientIsSource, midStream: !opening, now);
        }

        flow.LastSeenMicros = now;
        bool fromClient = flow.IsClient(h.SourceAddress, h.SourcePort);
        TcpReassembler reassembler = fromClient ? flow.ClientToServer : flow.ServerToClient;
        StreamDissector.Direction parser = fromClient ? flow.Dissector.FromClient : flow.Dissector.FromServer;
        if (syn && ack && !fromClient)
        {
            reassembler.Syn(h.Sequence);
        }
        else if (!reassembler.Synchronised && !payload.IsEmpty && (!flow.Figures.MidStream || StreamDissector.LooksLikeHeader(payload) || StartsWith(payload, "SCAM")))
        {
            reassembler.StartAt(h.Sequence); // a direction first seen mid-way starts at a message boundary
        }

        if (!payload.IsEmpty)
        {
            reassembler.Segment(h.Sequence, payload, h.PayloadLength, parser);
        }

        SessionFigures f = flow.Figures;
        f.Packets++;
        f.LastSeenUs = now;
        if (fromClient)
        {
            f.BytesFromClient += h.PayloadLength;
        }
        else
        {
            f.BytesFromServer += h.PayloadLength;
        }

        f.Retransmissions = flow.ClientToServer.Retransmissions + flow.ServerToClient.Retransmissions;
        f.OutOfOrder = flow.ClientToServer.OutOfOrder + flow.ServerToClient.OutOfOrder;
        f.LostBytes = flow.ClientToServer.LostBytes + flow.ServerToClient.LostBytes;
        if ((h.TcpFlags & PacketHeaders.Rst) != 0 || ((h.TcpFlags & PacketHeaders.Fin) != 0 && flow.Finished(fromClient)))
        {
            f.Ended = true;
            _tcp.Remove(key);
        }

        // A guess at a connection under way is trusted after two whole messages; broken before that, it was not SocketCam.
        bool decided = flow.Dissector.Verdict == StreamVerdict.SocketCam && (!f.MidStream || flow.Dissector.Messages >= 2);
        if (flow.Dissector.Verdict == StreamVerdict.NotSocketCam || (f.MidStream && !decided && f.Malformed is not null))
        {
            _tcp.Remove(key);
            _ignored.Add(key);
            return false;
        }

        if (!decided)
        {
            if (!flow.Hold(frame, originalLength, ethernet, now))
            {
                _tcp.Remove(key);
                _ignored.Add(key); // many frames and still nothing told: not SocketCam
            }

            return false;
        }

        if (!flow.Listed)
        {
            flow.Listed = true;
            f.FirstSeenUs = flow.FirstSeenMicros;
            List(f);
            flow.ReleaseHeld(options.Ports.Count == 0 ? pcap : null); // with ports, every frame was written already
        }

        return true;
    }

    private TcpFlow NewTcpFlow(in PacketHeaders h, bool clientIsSource, bool midStream, long now)
    {
        (UInt128 ca, ushort cp, UInt128 sa, ushort sp) = clientIsSource
            ? (h.SourceAddress, h.SourcePort, h.DestinationAddress, h.DestinationPort)
            : (h.DestinationAddress, h.DestinationPort, h.SourceAddress, h.SourcePort);
        var figures = new SessionFigures("tcp", PacketHeaders.Format(ca, h.IsIPv6, cp), PacketHeaders.Format(sa, h.IsIPv6, sp), SessionFormat.V1);
        var flow = new TcpFlow(figures, ca, cp, new StreamDissector(figures, midStream), now);
        _tcp[FlowKey.Of(in h)] = flow;
        return flow;
    }

    private bool Udp(in PacketHeaders h, ReadOnlySpan<byte> payload, long now)
    {
        var key = FlowKey.Of(in h);
        if (!_udp.TryGetValue(key, out UdpFlow? flow))
        {
            bool live = DatagramDissector.IsLiveVideo(payload);
            if (!live && !DatagramDissector.IsImageTransfer(payload))
            {
                return false;
            }

            bool? sourceIsClient = live
                ? (DatagramType)payload[5] switch
                {
                    DatagramType.Hello or DatagramType.Ping => true,
                    DatagramType.Welcome or DatagramType.Refuse or DatagramType.Pong => false,
                    _ => null,
                }
                : payload.Length > 5 && payload[5] is 0x01 or 0x04 ? true : payload.Length > 5 && payload[5] is 0x02 or 0x03 ? false : null;
            bool clientIsSource = sourceIsClient
                ?? (options.Ports.Contains(h.DestinationPort) || (!options.Ports.Contains(h.SourcePort) && h.SourcePort > h.DestinationPort));
            (UInt128 ca, ushort cp, UInt128 sa, ushort sp) = clientIsSource
                ? (h.SourceAddress, h.SourcePort, h.DestinationAddress, h.DestinationPort)
                : (h.DestinationAddress, h.DestinationPort, h.SourceAddress, h.SourcePort);
            var figures = new SessionFigures("udp", PacketHeaders.Format(ca, h.IsIPv6, cp), PacketHeaders.Format(sa, h.IsIPv6, sp),
                live ? SessionFormat.LiveUdp : SessionFormat.ImageUdp)
            {
                FirstSeenUs = now,
                MidStream = live && sourceIsClient is null,
            };
            flow = new UdpFlow(figures, ca, cp, new DatagramDissector(figures), now);
            _udp[key] = flow;
            List(figures);
        }

        flow.LastSeenMicros = now;
        bool fromClient = flow.IsClient(h.SourceAddress, h.SourcePort);
        SessionFigures f = flow.Figures;
        f.Packets++;
        f.LastSeenUs = now;
        if (fromClient)
        {
            f.BytesFromClient += payload.Length;
        }
        else
        {
            f.BytesFromServer += payload.Length;
        }

        flow.Dissector.Datagram(fromClient, payload);
        return true;
    }

    private void List(SessionFigures figures)
    {
        if (_sessions.Count >= options.MaxSessions)
        {
            int old = _sessions.FindIndex(s => s.Ended);
            _sessions.RemoveAt(old >= 0 ? old : 0);
        }

        _sessions.Add(figures);
    }

    private static bool StartsWith(ReadOnlySpan<byte> data, string ascii)
    {
        if (data.Length < ascii.Length)
        {
            return false;
        }

        for (int i = 0; i < ascii.Length; i++)
        {
            if (data[i] != ascii[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A flow's two ends in a fixed order, whichever sent the frame.</summary>
    private readonly record struct FlowKey(UInt128 A, ushort PortA, UInt128 B, ushort PortB)
    {
        public static FlowKey Of(in PacketHeaders h) =>
            (h.SourceAddress, h.SourcePort).CompareTo((h.DestinationAddress, h.DestinationPort)) <= 0
                ? new FlowKey(h.SourceAddress, h.SourcePort, h.DestinationAddress, h.DestinationPort)
                : new FlowKey(h.DestinationAddress, h.DestinationPort, h.SourceAddress, h.SourcePort);
    }

    private abstract class Flow(SessionFigures figures, UInt128 clientAddress, ushort clientPort, long now)
    {
        public SessionFigures Figures { get; } = figures;
        public long FirstSeenMicros { get; } = now;
        public long LastSeenMicros { get; set; } = now;

        public bool IsClient(UInt128 address, ushort port) => address == clientAddress && port == clientPort;
    }

    private sealed class UdpFlow(SessionFigures figures, UInt128 clientAddress, ushort clientPort, DatagramDissector dissector, long now)
        : Flow(figures, clientAddress, clientPort, now)
    {
        public DatagramDissector Dissector { get; } = dissector;
    }

    private sealed class TcpFlow(SessionFigures figures, UInt128 clientAddress, ushort clientPort, StreamDissector dissector, long now)
        : Flow(figures, clientAddress, clientPort, now)
    {
        private List<(long Micros, byte[] Frame, int OriginalLength, bool Ethernet)>? _held = [];
        private bool _finFromClient;
        private bool _finFromServer;

        public StreamDissector Dissector { get; } = dissector;
        public TcpReassembler ClientToServer { get; } = new();
        public TcpReassembler ServerToClient { get; } = new();
        public bool Listed { get; set; }

        /// <summary>Keeps an opening frame until the connection is told; false when too many were kept.</summary>
        public bool Hold(ReadOnlySpan<byte> frame, int originalLength, bool ethernet, long now)
        {
            if (_held is null || _held.Count >= MaxHeldFrames)
            {
                return false;
            }

            _held.Add((now, frame.ToArray(), originalLength, ethernet));
            return true;
        }

        public void ReleaseHeld(PcapWriter? pcap)
        {
            if (pcap is not null && _held is not null)
            {
                foreach ((long micros, byte[] frame, int originalLength, bool ethernet) in _held)
                {
                    pcap.Write(micros, frame, originalLength, ethernet);
                }
            }

            _held = null;
        }

        /// <summary>Records a FIN; true once both sides sent one.</summary>
        public bool Finished(bool fromClient)
        {
            if (fromClient)
            {
                _finFromClient = true;
            }
            else
            {
                _finFromServer = true;
            }

            return _finFromClient && _finFromServer;
        }
    }
}
