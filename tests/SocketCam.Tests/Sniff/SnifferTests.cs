using System.Buffers.Binary;
using System.Text;
using SocketCam.Media;
using SocketCam.Protocol;
using SocketCam.Sniff;
using SocketCam.Transfer;
using SocketCam.Udp;

namespace SocketCam.Tests.Sniff;

/// <summary>
/// The sniffer's core fed frames as a packet socket hands them over: Ethernet, IPv4, TCP or UDP, and SocketCam's bytes
/// written by the engine's own writers. Hostile and odd input (lies about sizes, reused ports, bridges, SYN floods,
/// random damage) must never escape as an exception, grow memory past its bounds or hide the real sessions.
/// </summary>
public sealed class SnifferTests
{
    private static readonly PacketOrigin Lo = new(1, PacketSocket.HardwareEthernet, 0);
    private const uint Client = 0x0A000002, Server = 0x0A000001; // 10.0.0.2 → 10.0.0.1

    [Fact]
    public void A_JOIN_too_short_for_its_fields_is_malformed_and_read_no_further_never_a_crash()
    {
        var sniffer = new Sniffer(new SnifferOptions());
        var tcp = new TcpConversation(sniffer, 40000, 9999);
        tcp.Open();
        tcp.FromServer(Preface(1, 2));
        tcp.FromClient([.. Preface(2, 2), .. Message(0x03, new byte[11])]); // features, flags, room_len 0: nothing after it

        SessionFigures s = Assert.Single(sniffer.Sessions);
        Assert.Equal(SessionFormat.V2, s.Format);
        Assert.Contains("JOIN", s.Malformed, StringComparison.Ordinal);
        Assert.Equal(0, sniffer.ReadErrors);
    }

    [Fact]
    public void A_TCP_OFFER_announcing_more_than_any_file_is_malformed_never_a_crash()
    {
        var sniffer = new Sniffer(new SnifferOptions());
        var tcp = new TcpConversation(sniffer, 40001, 7000);
        tcp.Open();
        byte[] offer = new byte[TransferProtocol.TcpOfferBytes];
        TcpTransferHeader.WriteOffer(offer, 0, 0);
        BinaryPrimitives.WriteUInt64BigEndian(offer.AsSpan(8), ulong.MaxValue - 15);
        tcp.FromClient([.. offer, .. new byte[100]]);

        SessionFigures s = Assert.Single(sniffer.Sessions);
        Assert.Equal(SessionFormat.ImageTcp, s.Format);
        Assert.Contains("TCP_OFFER announces", s.Malformed, StringComparison.Ordinal);
        Assert.Equal(0, sniffer.ReadErrors);
    }

    [Fact]
    public void A_length_over_the_types_cap_is_malformed_and_the_other_direction_goes_on()
    {
        var sniffer = new Sniffer(new SnifferOptions());
        var tcp = new TcpConversation(sniffer, 40002, 9999);
        tcp.Open();
        tcp.FromServer(Preface(1, 2));
        tcp.FromClient([.. Preface(1, 0), .. Header(0x20, 1 << 20)]); // a PING of 1 MiB
        tcp.FromServer(Message(0x21, new byte[24])); // PONG

        SessionFigures s = Assert.Single(sniffer.Sessions);
        Assert.Contains("PING of 1048576 bytes is over its cap of 16", s.Malformed, StringComparison.Ordinal);
        Assert.Equal(1, s.MessagesFromServer["PONG"]);
    }

    [Fact]
    public void A_new_connection_on_a_reused_port_pair_is_a_new_session()
    {
        var sniffer = new Sniffer(new SnifferOptions());
        var first = new TcpConversation(sniffer, 40003, 9999, clientIsn: 1000);
        first.Open();
        first.FromServer(Preface(1, 2));
        first.FromClient([.. Preface(2, 2), .. Join("one")]);
        var second = new TcpConversation(sniffer, 40003, 9999, clientIsn: 900_000); // FIN never seen: the first looks alive
        second.Open();
        second.FromServer(Preface(1, 2));
        second.FromClient([.. Preface(2, 2), .. Join("two")]);

        Assert.Equal(["one", "two"], sniffer.Sessions.Select(s => s.Room));
        Assert.True(sniffer.Sessions[0].Ended);
        Assert.All(sniffer.Sessions, s => Assert.Null(s.Malformed));
    }

    [Fact]
    public void The_same_frames_seen_on_two_interfaces_of_a_bridge_count_once()
    {
        var sniffer = new Sniffer(new SnifferOptions());
        var tcp = new TcpConversation(sniffer, 40004, 9999) { Interfaces = [new PacketOrigin(3, 1, 0), new PacketOrigin(4, 1, 0)] };
        tcp.Open();
        tcp.FromServer(Preface(1, 2));
        tcp.FromClient([.. Preface(1, 0), .. Hello("main")]);
        for (int i = 0; i < 5; i++)
        {
            tcp.FromServer(Message(0x10, VideoFrameBody(2000)));
        }

        SessionFigures s = Assert.Single(sniffer.Sessions);
        Assert.Equal(0, s.Retransmissions);
        Assert.Equal(5, s.MessagesFromServer["VIDEO_FRAME"]);
        Assert.Equal(5, s.Tracks.Single().Frames);
        Assert.Equal(tcp.Sent, s.Packets); // each frame once, though the sniffer was handed every one twice
        Assert.Equal(tcp.Sent * 2, sniffer.Frames);
    }

    [Fact]
    public void A_flood_of_SYNs_stays_within_the_flow_table_and_a_real_session_still_gets_through()
    {
        var sniffer = new Sniffer(new SnifferOptions { MaxFlows = 500 });
        for (int i = 0; i < 20_000; i++)
        {
            sniffer.OnFrame(Tcp((uint)(0x0B000000 + i), 1024 + (ushort)(i % 60000), Server, 9999, (uint)i, PacketHeaders.Syn, []), 0, Lo, i);
        }

        Assert.True(sniffer.TcpFlows <= 500, $"{sniffer.TcpFlows} flows");
        var tcp = new TcpConversation(sniffer, 40005, 9999);
        tcp.Open();
        tcp.FromServer(Preface(1, 2));
        tcp.FromClient([.. Preface(2, 2), .. Join("real")]);
        Assert.Equal("real", Assert.Single(sniffer.Sessions).Room);
    }

    [Fact]
    public void A_session_already_under_way_is_picked_up_at_a_header_and_trusted_after_a_second_one()
    {
        var sniffer = new Sniffer(new SnifferOptions());
        var tcp = new TcpConversation(sniffer, 40006, 9999);
        tcp.FromServer(new byte[700]); // the middle of a picture: no header, ignored
        tcp.FromClient(Message(0x20, new byte[16])); // PING: looks like a header
        Assert.Empty(sniffer.Sessions);
        tcp.FromClient(Message(0x20, new byte[16])); // a second one where the first one's length said: trusted
        tcp.FromServer(Message(0x21, new byte[24]));

        SessionFigures s = Assert.Single(sniffer.Sessions);
        Assert.True(s.MidStream);
        Assert.Equal(SessionFormat.StreamMidway, s.Format);
        Assert.Equal(2, s.MessagesFromClient["PING"]);
        Assert.Equal(1, s.MessagesFromServer["PONG"]);
    }

    [Fact]
    public void Damaged_frames_of_every_format_never_trip_a_reader_and_every_bound_holds()
    {
        string path = Path.Combine(Path.GetTempPath(), $"socketcam-sniffer-{Guid.NewGuid():N}.pcap");
        using var pcap = new PcapWriter(path);
        using var cleanup = new TempFile(path);
        var options = new SnifferOptions { MaxFlows = 64, MaxSessions = 64, MaxPendingBytes = 1 << 20, MaxHeldBytes = 1 << 20, MaxBitmapBytes = 1 << 20 };
        var sniffer = new Sniffer(options, pcap);
        List<byte[]> frames = SessionOfEveryFormat();
        var random = new Random(20); // fixed: a failure can be replayed
        long time = 0;
        for (int i = 0; i < 40_000; i++)
        {
            byte[] frame = (byte[])frames[random.Next(frames.Count)].Clone();
            int damage = random.Next(1, 6);
            for (int d = 0; d < damage; d++)
            {
                int at = 14 + random.Next(frame.Length - 14); // the Ethernet header aside: the rest is fair game
                frame[at] = random.Next(3) switch { 0 => 0, 1 => 0xFF, _ => (byte)random.Next(256) };
            }

            int length = random.Next(4) == 0 ? random.Next(frame.Length + 1) : frame.Length; // sometimes cut short
            time += random.Next(0, 50_000);
            sniffer.OnFrame(frame.AsSpan(0, length), frame.Length, new PacketOrigin(random.Next(1, 3), 1, 0), time);
        }

        Assert.Equal(0, sniffer.ReadErrors); // no reader met a frame it could not handle
        Assert.True(sniffer.TcpFlows <= 64 && sniffer.UdpFlows <= 64);
        Assert.True(sniffer.Sessions.Count <= 64);
        Assert.True(sniffer.PendingBytes <= options.MaxPendingBytes);
        Assert.True(sniffer.HeldBytes <= options.MaxHeldBytes);
        Assert.True(sniffer.BitmapBytes <= options.MaxBitmapBytes);
        Assert.All(sniffer.Sessions, s => Assert.True(s.Tracks.Count <= 2 * (SessionFigures.MaxTracks + 1)));
    }

    [Fact]
    public void Held_opening_frames_are_written_once_the_connection_is_told_and_given_back_when_it_is_not()
    {
        string path = Path.Combine(Path.GetTempPath(), $"socketcam-sniffer-{Guid.NewGuid():N}.pcap");
        try
        {
            using (var pcap = new PcapWriter(path))
            {
                var sniffer = new Sniffer(new SnifferOptions(), pcap);
                // A port scan: SYN, then RST with a payload; nothing is ever told, nothing may stay held.
                for (int i = 0; i < 2000; i++)
                {
                    sniffer.OnFrame(Tcp(Client, 20000 + i, Server, 80, 7, PacketHeaders.Syn, []), 0, Lo, i);
                    sniffer.OnFrame(Tcp(Server, 80, Client, 20000 + i, 9, PacketHeaders.Rst | PacketHeaders.Ack, new byte[500]), 0, Lo, i);
                }

                Assert.Equal(0, sniffer.HeldBytes);
                Assert.Equal(0, sniffer.TcpFlows);
                var tcp = new TcpConversation(sniffer, 40010, 9999);
                tcp.Open();
                tcp.FromServer(Preface(1, 2));
                tcp.FromClient([.. Preface(2, 2), .. Join("told")]);
                Assert.Equal(0, sniffer.HeldBytes); // written on being told
                Assert.Equal(tcp.Sent, pcap.Frames); // the SYN, SYN-ACK and prefaces too; none of the scan's
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_session_under_way_whose_messages_span_many_segments_is_still_picked_up()
    {
        var sniffer = new Sniffer(new SnifferOptions());
        var tcp = new TcpConversation(sniffer, 40011, 9999);
        byte[] frame = Message(0x10, VideoFrameBody(60_000));
        tcp.FromServer(frame[10_000..]); // joined in the middle of a 60 KB picture: 35 segments of it first
        tcp.FromClient(Message(0x20, new byte[16])); // the viewer's PING: only clients send one, so this end is the client
        for (int i = 0; i < 5; i++)
        {
            tcp.FromServer(frame); // each written on its own, as the hub does: a message starts a segment
        }

        SessionFigures s = Assert.Single(sniffer.Sessions);
        Assert.True(s.MidStream);
        Assert.Equal("10.0.0.2:40011", s.Client);
        Assert.Equal(5, s.MessagesFromServer["VIDEO_FRAME"]);
        Assert.Null(s.Malformed);
    }

    [Fact]
    public void A_new_connection_replaces_one_followed_from_its_middle_on_the_same_port_pair()
    {
        var sniffer = new Sniffer(new SnifferOptions());
        var old = new TcpConversation(sniffer, 40012, 9999);
        old.FromClient([.. Message(0x20, new byte[16]), .. Message(0x20, new byte[16])]);
        var fresh = new TcpConversation(sniffer, 40012, 9999, clientIsn: 77_000);
        fresh.Open();
        fresh.FromServer(Preface(1, 2));
        fresh.FromClient([.. Preface(2, 2), .. Join("fresh")]);

        Assert.Equal(2, sniffer.Sessions.Count);
        Assert.True(sniffer.Sessions[0].Ended);
        Assert.Equal("fresh", sniffer.Sessions[1].Room);
        Assert.Null(sniffer.Sessions[1].Malformed);
    }

    // ---- frames ----

    private static List<byte[]> SessionOfEveryFormat()
    {
        var frames = new List<byte[]>();
        var capture = new Sniffer(new SnifferOptions());
        var v2 = new TcpConversation(capture, 41000, 9999) { Record = frames };
        v2.Open();
        v2.FromServer(Preface(1, 2));
        v2.FromClient([.. Preface(2, 2), .. Join("room")]);
        v2.FromServer(Message(0x02, new byte[64]));
        v2.FromClient(Message(0x12, FrameBody(1, 1500)));
        v2.FromServer(Message(0x12, FrameBody(7, 3000)));
        v2.FromClient(Message(0x54, ChatSend("hello")));
        v2.FromServer(Message(0xC6, new byte[60]));
        v2.FromClient(Message(0x31, [0, 0, 0, 3, .. "bye"u8]));
        var v1 = new TcpConversation(capture, 41001, 9999) { Record = frames };
        v1.Open();
        v1.FromServer(Preface(1, 2));
        v1.FromClient([.. Preface(1, 0), .. Hello("main")]);
        v1.FromServer(Message(0x10, VideoFrameBody(5000)));
        var image = new TcpConversation(capture, 41002, 7000) { Record = frames };
        image.Open();
        byte[] offer = new byte[TransferProtocol.TcpOfferBytes];
        TcpTransferHeader.WriteOffer(offer, 3000, 0);
        image.FromClient([.. offer, .. new byte[3000]]);
        var seed = new TcpConversation(capture, 41003, 9998) { Record = frames };
        seed.Open();
        seed.FromServer([.. BitConverter.GetBytes(4000UL), 0x80, 0x04, .. new byte[3998]]);

        byte[] d = new byte[1200];
        int n = UdpWire.WriteHello(d, 0, new UdpHello(1, 0, PeerRole.Viewer, "main", null, "test"));
        frames.Add(Udp(Client, 50000, Server, 9999, d[..n]));
        var fragment = new FragmentHeader(1, 0, 2, 2, CodecId.Jpeg, 64, 48, 1124, 1500, 1, 1);
        n = UdpWire.WriteFragment(d, 5, fragment, new byte[1124]);
        frames.Add(Udp(Server, 9999, Client, 50000, d[..n]));
        n = UdpWire.WriteNack(d, 5, 1, [1]);
        frames.Add(Udp(Client, 50000, Server, 9999, d[..n]));
        n = UdpWire.WriteReport(d, 5, new UdpReport(10, 1, 5, 0, 100));
        frames.Add(Udp(Client, 50000, Server, 9999, d[..n]));
        UdpChunkHeader chunk = UdpChunkHeader.ForPart(9, 0, 3000, 0);
        chunk.Write(d);
        frames.Add(Udp(Client, 50001, Server, 7001, d[..(TransferProtocol.DataHeaderBytes + chunk.PayloadLength)]));
        return frames;
    }

    /// <summary>One TCP connection's frames, sequence numbers kept, handed to the sniffer as they are made.</summary>
    private sealed class TcpConversation(Sniffer sniffer, ushort clientPort, ushort serverPort, uint clientIsn = 1000, uint serverIsn = 5000)
    {
        private uint _clientSeq = clientIsn + 1;
        private uint _serverSeq = serverIsn + 1;
        private long _time;

        public PacketOrigin[] Interfaces { get; init; } = [Lo];
        public List<byte[]>? Record { get; init; }

        /// <summary>Frames made (each handed over once per interface).</summary>
        public int Sent { get; private set; }

        public void Open()
        {
            Send(Tcp(Client, clientPort, Server, serverPort, clientIsn, PacketHeaders.Syn, []));
            Send(Tcp(Server, serverPort, Client, clientPort, serverIsn, PacketHeaders.Syn | PacketHeaders.Ack, []));
        }

        public void FromClient(byte[] data)
        {
            foreach (byte[] part in Segments(data))
            {
                Send(Tcp(Client, clientPort, Server, serverPort, _clientSeq, PacketHeaders.Ack, part));
                _clientSeq += (uint)part.Length;
            }
        }

        public void FromServer(byte[] data)
        {
            foreach (byte[] part in Segments(data))
            {
                Send(Tcp(Server, serverPort, Client, clientPort, _serverSeq, PacketHeaders.Ack, part));
                _serverSeq += (uint)part.Length;
            }
        }

        private static IEnumerable<byte[]> Segments(byte[] data) => data.Chunk(1448);

        private void Send(byte[] frame)
        {
            Sent++;
            Record?.Add(frame);
            _time += 1000;
            foreach (PacketOrigin origin in Interfaces)
            {
                sniffer.OnFrame(frame, frame.Length, origin, _time);
            }
        }
    }

    private sealed class TempFile(string path) : IDisposable
    {
        public void Dispose() => File.Delete(path);
    }

    private static byte[] Tcp(uint source, int sourcePort, uint destination, int destinationPort, uint sequence, byte flags, byte[] payload)
    {
        byte[] f = new byte[14 + 20 + 20 + payload.Length];
        f[12] = 0x08; // IPv4
        Ip(f, 6, 20 + payload.Length, source, destination);
        Span<byte> t = f.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(t, (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(t[2..], (ushort)destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(t[4..], sequence);
        t[12] = 5 << 4;
        t[13] = flags;
        payload.CopyTo(t[20..]);
        return f;
    }

    private static byte[] Udp(uint source, int sourcePort, uint destination, int destinationPort, byte[] payload)
    {
        byte[] f = new byte[14 + 20 + 8 + payload.Length];
        f[12] = 0x08;
        Ip(f, 17, 8 + payload.Length, source, destination);
        Span<byte> u = f.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(u, (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(u[2..], (ushort)destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(u[4..], (ushort)(8 + payload.Length));
        payload.CopyTo(u[8..]);
        return f;
    }

    private static void Ip(byte[] f, byte protocol, int payloadLength, uint source, uint destination)
    {
        Span<byte> ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + payloadLength));
        ip[8] = 64;
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destination);
    }

    private static byte[] Preface(ushort version, ushort maxVersion)
    {
        byte[] p = [.. "SCAM"u8, 0, 0, 0, 0];
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), version);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), maxVersion);
        return p;
    }

    private static byte[] Header(byte type, uint length)
    {
        byte[] h = new byte[8];
        h[0] = type;
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(4), length);
        return h;
    }

    private static byte[] Message(byte type, byte[] payload) => [.. Header(type, (uint)payload.Length), .. payload];

    private static byte[] Join(string room)
    {
        byte[] r = Encoding.ASCII.GetBytes(room);
        return Message(0x03, [.. new byte[10], (byte)r.Length, .. r, 0, 0, 0, 0]); // no name, no token, no agent
    }

    private static byte[] Hello(string room)
    {
        byte[] r = Encoding.ASCII.GetBytes(room);
        return Message(0x01, [2, (byte)r.Length, .. r, 0, 0]);
    }

    private static byte[] VideoFrameBody(int bytes)
    {
        byte[] b = new byte[24 + bytes];
        b[0] = 1; // JPEG
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), 64);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), 48);
        return b;
    }

    private static byte[] FrameBody(uint participant, int bytes)
    {
        byte[] b = new byte[32 + bytes];
        BinaryPrimitives.WriteUInt32BigEndian(b, participant);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), 1);
        b[6] = 1;
        b[7] = 1;
        b[8] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(12), 64);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(14), 48);
        return b;
    }

    private static byte[] ChatSend(string text)
    {
        byte[] t = Encoding.UTF8.GetBytes(text);
        byte[] b = new byte[16 + t.Length];
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(14), (ushort)t.Length);
        t.CopyTo(b, 16);
        return b;
    }
}
