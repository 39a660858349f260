using SocketCam.Udp;

namespace SocketCam.Sniff;

/// <summary>What <c>socketcam sniff</c> follows and keeps (docs/SNIFF.md "Bounds").</summary>
internal sealed record SnifferOptions
{
    /// <summary>Only traffic to or from these ports (either end); empty: every port, SocketCam told by its content.</summary>
    public IReadOnlySet<int> Ports { get; init; } = new HashSet<int>();

    /// <summary>Sessions kept for the figures (ended ones go first when there are more). Default 4096.</summary>
    public int MaxSessions { get; init; } = 4096;

    /// <summary>TCP connections, and UDP flows, followed at once (connections not told yet give way first). Default 16384 each.</summary>
    public int MaxFlows { get; init; } = 16384;

    /// <summary>Bytes waiting behind TCP holes, all connections together. Default 256 MiB.</summary>
    public long MaxPendingBytes { get; init; } = 256L << 20;

    /// <summary>Opening frames held for --pcap until their connection is told, all connections together. Default 64 MiB.</summary>
    public long MaxHeldBytes { get; init; } = 64L << 20;
}

/// <summary>
/// The sniffer's core, without the socket: captured frames in, SocketCam sessions and their figures out. TCP
/// connections are followed from their SYN (or from a segment that starts with a native header, for sessions already
/// under way), reassembled per direction and read by a <see cref="StreamDissector"/>; UDP flows that carry SCUV or SCIM
/// datagrams by a <see cref="DatagramDissector"/>. With a <see cref="PcapWriter"/> every frame of a SocketCam session is
/// written, the connection's opening ones included (held until its first bytes told what it is); with ports given,
/// every frame on them. Everything it keeps is bounded (<see cref="SnifferOptions"/>); a frame it cannot read ends the
/// following of that flow, never the sniffer. Not thread-safe: callers hold <see cref="Sync"/>.
/// </summary>
internal sealed class Sniffer(SnifferOptions options, PcapWriter? pcap = null)
{
    private const int MaxHeldFrames = 16;
    private const int MaxGuesses = 3;
    private const int MaxRemembered = 100_000;
    private const long TcpIdleMicros = 120_000_000;
    private const long UdpIdleMicros = 10_000_000;
    private const long HousekeepingMicros = 1_000_000;

    private readonly Dictionary<FlowKey, TcpFlow> _tcp = [];
    private readonly Queue<FlowKey> _undecided = []; // TCP flows in the order they were opened: the first to give way
    private readonly Dictionary<FlowKey, UdpFlow> _udp = [];
    private readonly HashSet<FlowKey> _ignored = [];
    private readonly Dictionary<FlowKey, int> _failedGuesses = [];
    private readonly List<SessionFigures> _sessions = [];
    private readonly PendingBudget _pending = new(options.MaxPendingBytes);
    private long _heldBytes;
    private long _lastHousekeepingMicros;

    public object Sync { get; } = new();

    /// <summary>Every frame handed in, the ones parsed as TCP or UDP over IP, and those that belonged to a SocketCam session.</summary>
    public long Frames { get; private set; }
    public long IpFrames { get; private set; }
    public long SocketCamFrames { get; private set; }

    /// <summary>Frames of links sniff cannot read (not Ethernet, loopback or raw IP), and the last such link type.</summary>
    public long OtherLinkFrames { get; private set; }
    public ushort OtherLinkType { get; private set; }

    /// <summary>Flows not followed because the tables were full, and frames whose reading failed (the flow is then dropped).</summary>
    public long FlowsRefused { get; private set; }
    public long ReadErrors { get; private set; }

    public int TcpFlows => _tcp.Count;
    public int UdpFlows => _udp.Count;
    public long PendingBytes => _pending.Used;

    public IReadOnlyList<SessionFigures> Sessions => _sessions;

    public void OnFrame(ReadOnlySpan<byte> frame, int originalLength, PacketOrigin origin, long nowMicros)
    {
        if (origin.HardwareType == PacketSocket.HardwareLoopback && origin.PacketType == PacketSocket.PacketOutgoing)
        {
            return; // loopback shows each frame twice, leaving and arriving: the arriving copy is the one kept
        }

        Frames++;
        if (nowMicros - _lastHousekeepingMicros >= HousekeepingMicros)
        {
            Housekeeping(nowMicros);
        }

        bool? ethernet = LinkCarries(origin.HardwareType);
        if (ethernet is null)
        {
            OtherLinkFrames++;
            OtherLinkType = origin.HardwareType;
            return;
        }

        if (!PacketHeaders.TryParse(frame, ethernet.Value, out PacketHeaders h))
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
        bool keep;
        try
        {
            keep = h.Transport == TransportKind.Tcp
                ? Tcp(in h, payload, frame, originalLength, ethernet.Value, origin.InterfaceIndex, nowMicros)
                : Udp(in h, payload, origin.InterfaceIndex, nowMicros);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A reader's bug met a frame it did not foresee: that flow is given up, the sniffer goes on.
            ReadErrors++;
            Forget(FlowKey.Of(in h), h.Transport, $"sniff could not read a frame ({ex.GetType().Name}: {ex.Message})");
            keep = false;
        }

        if (keep)
        {
            SocketCamFrames++;
        }

        if (pcap is not null && (keep || onPorts))
        {
            pcap.Write(nowMicros, frame, originalLength, ethernet.Value);
        }
    }

    /// <summary>true: an Ethernet header first (Ethernet, loopback); false: the IP header first (tun, PPP, raw IP, tunnels); null: a link sniff cannot read.</summary>
    private static bool? LinkCarries(ushort hardwareType) => hardwareType switch
    {
        PacketSocket.HardwareEthernet or PacketSocket.HardwareLoopback => true,
        0xFFFE or 512 or 519 or 768 or 769 or 776 or 778 => false, // NONE, PPP, RAWIP, TUNNEL, TUNNEL6, SIT, IPGRE
        _ => null,
    };

    /// <summary>
    /// Closes an interval: rates per track (with <paramref name="final"/>, each session's averages). Returns the sessions
    /// (read them under <see cref="Sync"/>).
    /// </summary>
    public IReadOnlyList<SessionFigures> Tick(long nowMicros, bool final = false)
    {
        foreach (SessionFigures s in _sessions)
        {
            s.Tick(nowMicros, final);
        }

        pcap?.Flush();
        return _sessions;
    }

    /// <summary>Idle flows closed and the remembered sets kept bounded, once a second of capture time.</summary>
    private void Housekeeping(long nowMicros)
    {
        _lastHousekeepingMicros = nowMicros;
        foreach ((FlowKey key, TcpFlow flow) in _tcp)
        {
            if (nowMicros - flow.LastSeenMicros > TcpIdleMicros)
            {
                flow.Figures.Ended = true;
                Drop(key, flow);
            }
        }

        foreach ((FlowKey key, UdpFlow flow) in _udp)
        {
            if (nowMicros - flow.LastSeenMicros > UdpIdleMicros)
            {
                flow.Figures.Ended = true;
                _udp.Remove(key);
            }
        }

        if (_ignored.Count > MaxRemembered)
        {
            _ignored.Clear(); // those flows will be judged again, once, by their next segment
        }

        if (_failedGuesses.Count > MaxRemembered)
        {
            _failedGuesses.Clear();
        }

        while (_undecided.Count > 2 * options.MaxFlows && _undecided.TryDequeue(out _))
        {
        }
    }

    private bool Tcp(in PacketHeaders h, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> frame, int originalLength, bool ethernet, int ifindex, long now)
    {
        var key = FlowKey.Of(in h);
        bool syn = (h.TcpFlags & PacketHeaders.Syn) != 0;
        bool ack = (h.TcpFlags & PacketHeaders.Ack) != 0;
        if (_tcp.TryGetValue(key, out TcpFlow? flow))
        {
            if (flow.InterfaceIndex != ifindex)
            {
                return flow.Listed; // the same frame again on another interface (a bridge and its port): counted once
            }

            if (syn && !ack && flow.IsClient(h.SourceAddress, h.SourcePort) && flow.ClientToServer.InitialSequence is { } isn && isn != h.Sequence)
            {
                flow.Figures.Ended = true; // a new connection on the same port pair: the old one is over
                Drop(key, flow);
                flow = null;
            }
        }

        if (flow is null)
        {
            if (syn && !ack)
            {
                _ignored.Remove(key);
                flow = NewTcpFlow(key, in h, clientIsSource: true, midStream: false, ifindex, now);
                if (flow is null)
                {
                    return false;
                }

                flow.ClientToServer.Syn(h.Sequence);
                Hold(flow, frame, originalLength, ethernet, now);
                return false;
            }

            if (payload.IsEmpty || _ignored.Contains(key))
            {
                return false;
            }

            bool opening = StartsWith(payload, "SCAM") || StartsWith(payload, "SCIM");
            if (!opening && !StreamDissector.LooksLikeHeader(payload))
            {
                return false; // not a message's start (perhaps the middle of a picture): a later segment may be one
            }

            // A connection already under way: an image transfer's opener is its client; else the end not on a given
            // port, else the higher port.
            bool clientIsSource = StartsWith(payload, "SCIM")
                || options.Ports.Contains(h.DestinationPort) || (!options.Ports.Contains(h.SourcePort) && h.SourcePort > h.DestinationPort);
            flow = NewTcpFlow(key, in h, clientIsSource, midStream: !opening, ifindex, now);
            if (flow is null)
            {
                return false;
            }
        }

        flow.LastSeenMicros = now;
        bool fromClient = flow.IsClient(h.SourceAddress, h.SourcePort);
        TcpReassembler reassembler = fromClient ? flow.ClientToServer : flow.ServerToClient;
        StreamDissector.Direction parser = fromClient ? flow.Dissector.FromClient : flow.Dissector.FromServer;
        if (syn && ack && !fromClient)
        {
            reassembler.Syn(h.Sequence);
        }
        else if (!reassembler.Synchronised && !payload.IsEmpty && (!flow.Figures.MidStream || parser.CanResumeAt(payload) || StartsWith(payload, "SCAM")))
        {
            reassembler.StartAt(h.Sequence); // a direction first seen mid-way starts at a message boundary
        }

        if (parser.IsResynchronising && reassembler.Synchronised && h.Sequence == reassembler.Next && parser.CanResumeAt(payload))
        {
            parser.ResumeAtHeader();
        }

        if (!payload.IsEmpty)
        {
            reassembler.Segment(h.Sequence, payload, h.PayloadLength, now, parser);
        }

        SessionFigures f = flow.Figures;
        f.CountPacket(fromClient, h.PayloadLength, now);

        f.Retransmissions = flow.ClientToServer.Retransmissions + flow.ServerToClient.Retransmissions;
        f.OutOfOrder = flow.ClientToServer.OutOfOrder + flow.ServerToClient.OutOfOrder;
        f.LostBytes = flow.ClientToServer.LostBytes + flow.ServerToClient.LostBytes;
        if ((h.TcpFlags & PacketHeaders.Rst) != 0 || ((h.TcpFlags & PacketHeaders.Fin) != 0 && flow.Finished(fromClient)))
        {
            f.Ended = true;
            Drop(key, flow);
        }

        // A guess at a connection under way is trusted after two whole messages; broken before that, it was not one
        // (or it began inside a picture): given up, and tried again at a later header-like segment, a few times.
        bool decided = flow.Dissector.Verdict == StreamVerdict.SocketCam && (!f.MidStream || flow.Dissector.Messages >= 2);
        if (flow.Dissector.Verdict == StreamVerdict.NotSocketCam)
        {
            Drop(key, flow);
            Remember(_ignored, key);
            return false;
        }

        if (f.MidStream && !decided && f.Malformed is not null)
        {
            Drop(key, flow);
            int failures = _failedGuesses.GetValueOrDefault(key) + 1;
            if (failures >= MaxGuesses)
            {
                Remember(_ignored, key);
            }
            else
            {
                _failedGuesses[key] = failures;
            }

            return false;
        }

        if (!decided)
        {
            if (!Hold(flow, frame, originalLength, ethernet, now) && flow.HeldFrames >= MaxHeldFrames)
            {
                Drop(key, flow);
                Remember(_ignored, key); // many frames and still nothing told: not SocketCam
            }

            return false;
        }

        if (!flow.Listed)
        {
            flow.Listed = true;
            f.FirstSeenUs = flow.FirstSeenMicros;
            List(f);
            _heldBytes -= flow.ReleaseHeld(options.Ports.Count == 0 ? pcap : null); // with ports, every frame was written already
        }

        return true;
    }

    private TcpFlow? NewTcpFlow(FlowKey key, in PacketHeaders h, bool clientIsSource, bool midStream, int ifindex, long now)
    {
        if (_tcp.Count >= options.MaxFlows && !EvictUndecided())
        {
            FlowsRefused++;
            return null;
        }

        (UInt128 ca, ushort cp, UInt128 sa, ushort sp) = clientIsSource
            ? (h.SourceAddress, h.SourcePort, h.DestinationAddress, h.DestinationPort)
            : (h.DestinationAddress, h.DestinationPort, h.SourceAddress, h.SourcePort);
        var figures = new SessionFigures("tcp", PacketHeaders.Format(ca, h.IsIPv6, cp), PacketHeaders.Format(sa, h.IsIPv6, sp), SessionFormat.StreamMidway);
        var flow = new TcpFlow(figures, ca, cp, new StreamDissector(figures, midStream), _pending, ifindex, now);
        _tcp[key] = flow;
        _undecided.Enqueue(key);
        return flow;
    }

    /// <summary>Makes room by dropping the oldest connection not told yet (a flood of SYNs cannot crowd out real sessions).</summary>
    private bool EvictUndecided()
    {
        while (_undecided.TryDequeue(out FlowKey key))
        {
            if (_tcp.TryGetValue(key, out TcpFlow? flow) && !flow.Listed)
            {
                Drop(key, flow);
                return true;
            }
        }

        return false;
    }

    private bool Hold(TcpFlow flow, ReadOnlySpan<byte> frame, int originalLength, bool ethernet, long now)
    {
        if (pcap is null || options.Ports.Count > 0 || _heldBytes + frame.Length > options.MaxHeldBytes || flow.HeldFrames >= MaxHeldFrames)
        {
            flow.CountUnheld();
            return false;
        }

        flow.Hold(frame, originalLength, ethernet, now);
        _heldBytes += frame.Length;
        return true;
    }

    private void Drop(FlowKey key, TcpFlow flow)
    {
        _tcp.Remove(key);
        _heldBytes -= flow.ReleaseHeld(null);
        flow.ClientToServer.Release();
        flow.ServerToClient.Release();
    }

    private void Forget(FlowKey key, TransportKind transport, string why)
    {
        if (transport == TransportKind.Tcp && _tcp.TryGetValue(key, out TcpFlow? tcp))
        {
            tcp.Figures.MarkMalformed(why);
            Drop(key, tcp);
        }
        else if (transport == TransportKind.Udp && _udp.Remove(key, out UdpFlow? udp))
        {
            udp.Figures.MarkMalformed(why);
        }

        Remember(_ignored, key);
    }

    private static void Remember(HashSet<FlowKey> set, FlowKey key)
    {
        if (set.Count < 2 * MaxRemembered)
        {
            set.Add(key);
        }
    }

    private bool Udp(in PacketHeaders h, ReadOnlySpan<byte> payload, int ifindex, long now)
    {
        var key = FlowKey.Of(in h);
        if (_udp.TryGetValue(key, out UdpFlow? flow) && flow.InterfaceIndex != ifindex)
        {
            return true; // the same datagram again on another interface
        }

        if (flow is null)
        {
            bool live = DatagramDissector.IsLiveVideo(payload);
            if ((!live && !DatagramDissector.IsImageTransfer(payload)) || _ignored.Contains(key))
            {
                return false;
            }

            if (_udp.Count >= options.MaxFlows)
            {
                FlowsRefused++;
                return false;
            }

            bool? sourceIsClient = live
                ? (DatagramType)payload[5] switch
                {
                    DatagramType.Hello or DatagramType.Ping => true,
                    DatagramType.Welcome or DatagramType.Refuse or DatagramType.Pong => false,
                    _ => null,
                }
                : payload[5] is 0x01 or 0x04 ? true : payload[5] is 0x02 or 0x03 ? false : null; // DATA, DONE from the sender
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
            flow = new UdpFlow(figures, ca, cp, new DatagramDissector(figures), ifindex, now);
            _udp[key] = flow;
            List(figures);
        }

        flow.LastSeenMicros = now;
        bool fromClient = flow.IsClient(h.SourceAddress, h.SourcePort);
        flow.Figures.CountPacket(fromClient, payload.Length, now);
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

    private abstract class Flow(SessionFigures figures, UInt128 clientAddress, ushort clientPort, int interfaceIndex, long now)
    {
        public SessionFigures Figures { get; } = figures;
        public long FirstSeenMicros { get; } = now;
        public long LastSeenMicros { get; set; } = now;

        /// <summary>The interface the flow was first seen on: its frames seen again elsewhere (a bridge) are not counted twice.</summary>
        public int InterfaceIndex { get; } = interfaceIndex;

        public bool IsClient(UInt128 address, ushort port) => address == clientAddress && port == clientPort;
    }

    private sealed class UdpFlow(SessionFigures figures, UInt128 clientAddress, ushort clientPort, DatagramDissector dissector, int interfaceIndex, long now)
        : Flow(figures, clientAddress, clientPort, interfaceIndex, now)
    {
        public DatagramDissector Dissector { get; } = dissector;
    }

    private sealed class TcpFlow(SessionFigures figures, UInt128 clientAddress, ushort clientPort, StreamDissector dissector, PendingBudget budget, int interfaceIndex, long now)
        : Flow(figures, clientAddress, clientPort, interfaceIndex, now)
    {
        private List<(long Micros, byte[] Frame, int OriginalLength, bool Ethernet)>? _held;
        private long _heldBytes;
        private bool _finFromClient;
        private bool _finFromServer;

        public StreamDissector Dissector { get; } = dissector;
        public TcpReassembler ClientToServer { get; } = new(budget);
        public TcpReassembler ServerToClient { get; } = new(budget);
        public bool Listed { get; set; }

        /// <summary>Frames seen while the connection was not told yet (held or not).</summary>
        public int HeldFrames { get; private set; }

        public void CountUnheld() => HeldFrames++;

        /// <summary>Keeps an opening frame (a copy) until the connection is told.</summary>
        public void Hold(ReadOnlySpan<byte> frame, int originalLength, bool ethernet, long now)
        {
            (_held ??= []).Add((now, frame.ToArray(), originalLength, ethernet));
            _heldBytes += frame.Length;
            HeldFrames++;
        }

        /// <summary>Writes the held frames (if given a writer) and lets them go; returns the bytes given back.</summary>
        public long ReleaseHeld(PcapWriter? pcap)
        {
            if (pcap is not null && _held is not null)
            {
                foreach ((long micros, byte[] frame, int originalLength, bool ethernet) in _held)
                {
                    pcap.Write(micros, frame, originalLength, ethernet);
                }
            }

            long released = _heldBytes;
            _held = null;
            _heldBytes = 0;
            return released;
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
