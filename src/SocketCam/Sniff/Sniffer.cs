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

    /// <summary>UDP flows' fragment and part bitmaps, all together. Default 128 MiB.</summary>
    public long MaxBitmapBytes { get; init; } = 128L << 20;
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
    private readonly Queue<FlowKey> _udpOrder = []; // UDP flows in the order they were opened: the first to give way
    private readonly PendingBudget _bitmaps = new(options.MaxBitmapBytes);
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
    public long HeldBytes => _heldBytes;
    public long BitmapBytes => _bitmaps.Used;

    public IReadOnlyList<SessionFigures> Sessions => _sessions;

    /// <param name="nowMicros">a monotonic clock: timeouts and rates</param>
    /// <param name="captureMicros">when the kernel received the frame (wall clock), for the pcap file; default <paramref name="nowMicros"/></param>
    public void OnFrame(ReadOnlySpan<byte> frame, int originalLength, PacketOrigin origin, long nowMicros, long? captureMicros = null)
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
        long captured = captureMicros ?? nowMicros;
        Fate fate;
        try
        {
            fate = h.Transport == TransportKind.Tcp
                ? Tcp(in h, payload, frame, originalLength, ethernet.Value, origin.InterfaceIndex, nowMicros, captured)
                : Udp(in h, payload, origin.InterfaceIndex, nowMicros);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && ex is not PcapWriteException)
        {
            // A reader's bug met a frame it did not foresee: that flow is given up, the sniffer goes on. (A capture file
            // that cannot be written is no flow's fault: it ends the capture.)
            ReadErrors++;
            Forget(FlowKey.Of(in h), $"sniff could not read a frame ({ex.GetType().Name}: {ex.Message})");
            fate = Fate.Other;
        }

        if (fate == Fate.Duplicate)
        {
            return; // the same frame again on another interface: neither counted nor written twice
        }

        if (fate == Fate.SocketCam)
        {
            SocketCamFrames++;
        }

        if (pcap is not null && (fate == Fate.SocketCam || onPorts))
        {
            pcap.Write(captured, frame, originalLength, ethernet.Value);
        }
    }

    private enum Fate
    {
        /// <summary>Not (yet) known to be SocketCam's: not counted; written only with --port.</summary>
        Other,
        SocketCam,

        /// <summary>A frame of a flow first seen on another interface.</summary>
        Duplicate,
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
                DropUdp(key, flow);
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

        while (_udpOrder.Count > 2 * options.MaxFlows && _udpOrder.TryDequeue(out _))
        {
        }
    }

    private Fate Tcp(in PacketHeaders h, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> frame, int originalLength, bool ethernet, int ifindex, long now, long captured)
    {
        var key = FlowKey.Of(in h);
        bool syn = (h.TcpFlags & PacketHeaders.Syn) != 0;
        bool ack = (h.TcpFlags & PacketHeaders.Ack) != 0;
        if (_tcp.TryGetValue(key, out TcpFlow? flow))
        {
            if (flow.InterfaceIndex != ifindex)
            {
                return Fate.Duplicate; // the same frame again on another interface (a bridge and its port)
            }

            // A SYN that is not this connection's own (retransmitted) one opens a new connection on the same port pair.
            if (syn && !ack && !(flow.IsClient(h.SourceAddress, h.SourcePort) && flow.ClientToServer.InitialSequence == h.Sequence))
            {
                flow.Figures.Ended = true;
                Drop(key, flow);
                flow = null;
            }
        }

        if (flow is null)
        {
            if (syn && !ack)
            {
                _ignored.Remove(key);
                _failedGuesses.Remove(key);
                flow = NewTcpFlow(key, in h, clientIsSource: true, midStream: false, ifindex, now);
                if (flow is null)
                {
                    return Fate.Other;
                }

                flow.ClientToServer.Syn(h.Sequence);
                flow.Figures.CountPacket(fromClient: true, 0, now);
                Hold(flow, frame, originalLength, ethernet, captured);
                return Fate.Other;
            }

            if (payload.IsEmpty || _ignored.Contains(key))
            {
                return Fate.Other;
            }

            // A connection already under way is picked up at a message only one end sends (a PING comes every second), so
            // its client is known: a frame (either end's) or the middle of a picture waits for one.
            bool opening = StartsWith(payload, "SCAM") || StartsWith(payload, "SCIM");
            bool? sentByClient = StreamDissector.LooksLikeHeader(payload) ? StreamDissector.SentByClient(payload[0]) : null;
            if (!opening && sentByClient is null)
            {
                return Fate.Other;
            }

            // (A preface seen without its SYN: an image transfer's opener is its client; else the end not on a given port,
            // else the higher port.)
            bool clientIsSource = sentByClient ?? (StartsWith(payload, "SCIM")
                || options.Ports.Contains(h.DestinationPort) || (!options.Ports.Contains(h.SourcePort) && h.SourcePort > h.DestinationPort));
            flow = NewTcpFlow(key, in h, clientIsSource, midStream: !opening, ifindex, now);
            if (flow is null)
            {
                return Fate.Other;
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

        if (!payload.IsEmpty)
        {
            reassembler.Segment(h.Sequence, payload, h.PayloadLength, now, parser);
            flow.PayloadFrames++;
        }

        SessionFigures f = flow.Figures;
        f.CountPacket(fromClient, h.PayloadLength, now);
        f.Retransmissions = flow.ClientToServer.Retransmissions + flow.ServerToClient.Retransmissions;
        f.OutOfOrder = flow.ClientToServer.OutOfOrder + flow.ServerToClient.OutOfOrder;
        f.LostBytes = flow.ClientToServer.LostBytes + flow.ServerToClient.LostBytes;
        bool over = (h.TcpFlags & PacketHeaders.Rst) != 0 || ((h.TcpFlags & PacketHeaders.Fin) != 0 && flow.Finished(fromClient));

        // What the connection is, first; then whether it is over.
        if (flow.Dissector.Verdict == StreamVerdict.NotSocketCam)
        {
            Drop(key, flow);
            Remember(_ignored, key);
            return Fate.Other;
        }

        // A guess at a connection under way is trusted after two whole messages. Broken before that, or not confirmed
        // within many segments (a picture's bytes that looked like a header), it was not one: given up, and tried again
        // at a later header-like segment, a few times.
        bool decided = flow.Dissector.Verdict == StreamVerdict.SocketCam && (!f.MidStream || flow.Dissector.Messages >= 2);
        if (!decided)
        {
            bool hopeless = f.MidStream
                ? f.Malformed is not null || flow.PayloadFrames > MaxGuessFrames
                : flow.PayloadFrames > MaxHeldFrames; // a connection's first bytes tell what it is, or nothing will
            if (hopeless || over)
            {
                Drop(key, flow);
                if (f.MidStream)
                {
                    FailedGuess(key);
                }
                else if (hopeless)
                {
                    Remember(_ignored, key);
                }

                return Fate.Other;
            }

            Hold(flow, frame, originalLength, ethernet, captured);
            return Fate.Other;
        }

        if (!flow.Listed)
        {
            flow.Listed = true;
            f.FirstSeenUs = flow.FirstSeenMicros;
            List(f);
            _heldBytes -= flow.ReleaseHeld(options.Ports.Count == 0 ? pcap : null); // with ports, every frame was written already
        }

        if (over)
        {
            f.Ended = true;
            Drop(key, flow);
        }

        return Fate.SocketCam;
    }

    /// <summary>Segments with data a guess at a connection under way may take to show its second header (a 1080p JPEG in 1448-byte segments is ~200).</summary>
    private const int MaxGuessFrames = 1024;

    private void FailedGuess(FlowKey key)
    {
        int failures = _failedGuesses.GetValueOrDefault(key) + 1;
        if (failures >= MaxGuesses)
        {
            _failedGuesses.Remove(key);
            Remember(_ignored, key);
        }
        else
        {
            _failedGuesses[key] = failures;
        }
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

    /// <summary>Keeps a copy of an opening frame for --pcap (without --port: with it, every frame is written as it comes).</summary>
    private void Hold(TcpFlow flow, ReadOnlySpan<byte> frame, int originalLength, bool ethernet, long captured)
    {
        if (pcap is null || options.Ports.Count > 0 || _heldBytes + frame.Length > options.MaxHeldBytes || flow.HeldFrames >= MaxHeldFrames)
        {
            return;
        }

        flow.Hold(frame, originalLength, ethernet, captured);
        _heldBytes += frame.Length;
    }

    private void Drop(FlowKey key, TcpFlow flow)
    {
        if (!_tcp.TryGetValue(key, out TcpFlow? present) || present != flow)
        {
            return; // gone already, or another connection on the key now: not this one's to drop
        }

        _tcp.Remove(key);
        _heldBytes -= flow.ReleaseHeld(null);
        flow.ClientToServer.Release();
        flow.ServerToClient.Release();
    }

    private void Forget(FlowKey key, string why)
    {
        if (_tcp.TryGetValue(key, out TcpFlow? tcp))
        {
            tcp.Figures.MarkMalformed(why);
            Drop(key, tcp);
        }
        else if (_udp.TryGetValue(key, out UdpFlow? udp))
        {
            udp.Figures.MarkMalformed(why);
            DropUdp(key, udp);
        }

        Remember(_ignored, key);
    }

    private void DropUdp(FlowKey key, UdpFlow flow)
    {
        if (_udp.Remove(key))
        {
            flow.Dissector.Release();
        }
    }

    private static void Remember(HashSet<FlowKey> set, FlowKey key)
    {
        if (set.Count < 2 * MaxRemembered)
        {
            set.Add(key);
        }
    }

    private Fate Udp(in PacketHeaders h, ReadOnlySpan<byte> payload, int ifindex, long now)
    {
        var key = FlowKey.Of(in h);
        if (_udp.TryGetValue(key, out UdpFlow? flow) && flow.InterfaceIndex != ifindex)
        {
            return Fate.Duplicate; // the same datagram again on another interface
        }

        bool fresh = flow is null;
        if (flow is null)
        {
            bool live = DatagramDissector.IsLiveVideo(payload);
            if ((!live && !DatagramDissector.IsImageTransfer(payload)) || _ignored.Contains(key))
            {
                return Fate.Other;
            }

            if (_udp.Count >= options.MaxFlows && !EvictUdp(now))
            {
                FlowsRefused++;
                return Fate.Other;
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
            flow = new UdpFlow(figures, ca, cp, new DatagramDissector(figures, _bitmaps), ifindex, now);
            _udp[key] = flow;
            _udpOrder.Enqueue(key);
        }

        flow.LastSeenMicros = now;
        bool fromClient = flow.IsClient(h.SourceAddress, h.SourcePort);
        flow.Figures.CountPacket(fromClient, payload.Length, now);
        flow.Dissector.Datagram(fromClient, payload);
        if (fresh)
        {
            List(flow.Figures);
            if (flow.Figures.Malformed is not null)
            {
                // Its first datagram had the magic and nothing else of the format: shown (ended, so the first to make room
                // in the list), and that flow not followed further.
                flow.Figures.Ended = true;
                DropUdp(key, flow);
                Remember(_ignored, key);
            }
        }

        return Fate.SocketCam;
    }

    /// <summary>Makes room by dropping the oldest UDP flow idle for a second (a flood of one-datagram flows gives way).</summary>
    private bool EvictUdp(long now)
    {
        for (int tries = _udpOrder.Count; tries > 0 && _udpOrder.TryDequeue(out FlowKey key); tries--)
        {
            if (!_udp.TryGetValue(key, out UdpFlow? flow))
            {
                continue;
            }

            if (now - flow.LastSeenMicros > 1_000_000)
            {
                flow.Figures.Ended = true;
                DropUdp(key, flow);
                return true;
            }

            _udpOrder.Enqueue(key); // busy: kept, looked at again later
            return false;
        }

        return false;
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
    private readonly record struct FlowKey(TransportKind Transport, UInt128 A, ushort PortA, UInt128 B, ushort PortB)
    {
        public static FlowKey Of(in PacketHeaders h) =>
            (h.SourceAddress, h.SourcePort).CompareTo((h.DestinationAddress, h.DestinationPort)) <= 0
                ? new FlowKey(h.Transport, h.SourceAddress, h.SourcePort, h.DestinationAddress, h.DestinationPort)
                : new FlowKey(h.Transport, h.DestinationAddress, h.DestinationPort, h.SourceAddress, h.SourcePort);
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

        /// <summary>Opening frames held for --pcap.</summary>
        public int HeldFrames => _held?.Count ?? 0;

        /// <summary>Segments with data seen.</summary>
        public int PayloadFrames { get; set; }

        /// <summary>Keeps an opening frame (a copy) until the connection is told.</summary>
        public void Hold(ReadOnlySpan<byte> frame, int originalLength, bool ethernet, long capturedMicros)
        {
            (_held ??= []).Add((capturedMicros, frame.ToArray(), originalLength, ethernet));
            _heldBytes += frame.Length;
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
