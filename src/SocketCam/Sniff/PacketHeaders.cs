using System.Buffers.Binary;
using System.Net;

namespace SocketCam.Sniff;

/// <summary>IP version 4 or 6, TCP or UDP: what <see cref="PacketHeaders.TryParse"/> found in one captured frame.</summary>
internal enum TransportKind : byte
{
    Tcp = 6,
    Udp = 17,
}

/// <summary>
/// One frame's layers as far as the sniffer needs them: Ethernet (VLAN tags skipped), IPv4 or IPv6, then TCP or UDP.
/// Strict: anything short, fragmented or of another protocol is not parsed (the caller counts it and moves on).
/// </summary>
internal readonly struct PacketHeaders
{
    public TransportKind Transport { get; init; }
    public UInt128 SourceAddress { get; init; }
    public UInt128 DestinationAddress { get; init; }
    public bool IsIPv6 { get; init; }
    public ushort SourcePort { get; init; }
    public ushort DestinationPort { get; init; }
    public uint Sequence { get; init; }
    public byte TcpFlags { get; init; }

    /// <summary>Where the TCP or UDP payload starts in the frame, and its length as the IP header says (it may be cut short by the capture).</summary>
    public int PayloadOffset { get; init; }
    public int PayloadLength { get; init; }

    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Rst = 0x04;
    public const byte Ack = 0x10;

    /// <param name="frame">the captured bytes, from the link header on</param>
    /// <param name="ethernet">false: the frame starts with the IP header (tun-like links, ARPHRD_NONE)</param>
    public static bool TryParse(ReadOnlySpan<byte> frame, bool ethernet, out PacketHeaders headers)
    {
        headers = default;
        int offset = 0;
        ushort etherType;
        if (ethernet)
        {
            if (frame.Length < 14)
            {
                return false;
            }

            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
            offset = 14;
            while (etherType is 0x8100 or 0x88A8 && frame.Length >= offset + 4) // 802.1Q / 802.1ad tags
            {
                etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
                offset += 4;
            }
        }
        else
        {
            etherType = frame.Length > 0 && frame[0] >> 4 == 6 ? (ushort)0x86DD : (ushort)0x0800;
        }

        UInt128 source, destination;
        byte protocol;
        int ipEnd;
        bool v6;
        if (etherType == 0x0800)
        {
            if (frame.Length < offset + 20 || frame[offset] >> 4 != 4)
            {
                return false;
            }

            int ihl = (frame[offset] & 0x0F) * 4;
            int total = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
            ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 6)..]);
            if (ihl < 20 || (total != 0 && total < ihl) || (fragment & 0x3FFF) != 0) // a fragment: SocketCam never sends one (1200-byte datagrams)
            {
                return false;
            }

            // Loopback with TSO hands the socket super-segments whose IP total length may read 0; the frame's own size rules then.
            ipEnd = total == 0 ? frame.Length : offset + total;
            protocol = frame[offset + 9];
            source = BinaryPrimitives.ReadUInt32BigEndian(frame[(offset + 12)..]);
            destination = BinaryPrimitives.ReadUInt32BigEndian(frame[(offset + 16)..]);
            offset += ihl;
            v6 = false;
        }
        else if (etherType == 0x86DD)
        {
            if (frame.Length < offset + 40 || frame[offset] >> 4 != 6)
            {
                return false;
            }

            int payload = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 4)..]);
            protocol = frame[offset + 6];
            source = BinaryPrimitives.ReadUInt128BigEndian(frame[(offset + 8)..]);
            destination = BinaryPrimitives.ReadUInt128BigEndian(frame[(offset + 24)..]);
            ipEnd = payload == 0 ? frame.Length : offset + 40 + payload;
            offset += 40;
            v6 = true;
            if (!SkipExtensionHeaders(frame, ipEnd, ref offset, ref protocol))
            {
                return false;
            }
        }
        else
        {
            return false;
        }

        if (protocol == (byte)TransportKind.Tcp)
        {
            if (frame.Length < offset + 20)
            {
                return false;
            }

            int dataOffset = (frame[offset + 12] >> 4) * 4;
            if (dataOffset < 20 || offset + dataOffset > ipEnd)
            {
                return false;
            }

            headers = new PacketHeaders
            {
                Transport = TransportKind.Tcp,
                SourceAddress = source,
                DestinationAddress = destination,
                IsIPv6 = v6,
                SourcePort = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]),
                DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]),
                Sequence = BinaryPrimitives.ReadUInt32BigEndian(frame[(offset + 4)..]),
                TcpFlags = frame[offset + 13],
                PayloadOffset = offset + dataOffset,
                PayloadLength = ipEnd - offset - dataOffset,
            };
            return true;
        }

        if (protocol == (byte)TransportKind.Udp)
        {
            if (frame.Length < offset + 8)
            {
                return false;
            }

            int udpLength = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 4)..]);
            int length = udpLength >= 8 ? Math.Min(udpLength, ipEnd - offset) - 8 : ipEnd - offset - 8;
            headers = new PacketHeaders
            {
                Transport = TransportKind.Udp,
                SourceAddress = source,
                DestinationAddress = destination,
                IsIPv6 = v6,
                SourcePort = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]),
                DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]),
                PayloadOffset = offset + 8,
                PayloadLength = Math.Max(0, length),
            };
            return true;
        }

        return false;
    }

    /// <summary>
    /// Steps over IPv6 extension headers (hop-by-hop, routing, destination options; a fragment header only when it is
    /// an atomic fragment) to the transport header, at most 8 of them. False: a real fragment, or headers that run out
    /// of the packet.
    /// </summary>
    private static bool SkipExtensionHeaders(ReadOnlySpan<byte> frame, int ipEnd, ref int offset, ref byte protocol)
    {
        const int MaxExtensionHeaders = 8;
        for (int seen = 0; ; seen++)
        {
            switch (protocol)
            {
                case 0 or 43 or 60: // hop-by-hop, routing, destination options: (length + 1) 8-byte units
                    if (seen == MaxExtensionHeaders || offset + 8 > Math.Min(ipEnd, frame.Length))
                    {
                        return false;
                    }

                    protocol = frame[offset];
                    offset += (frame[offset + 1] + 1) * 8;
                    break;
                case 44: // fragment: offset and "more" both zero is a whole packet (RFC 6946); anything else is a piece
                    if (seen == MaxExtensionHeaders || offset + 8 > Math.Min(ipEnd, frame.Length) || (BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]) & 0xFFF9) != 0)
                    {
                        return false;
                    }

                    protocol = frame[offset];
                    offset += 8;
                    break;
                default:
                    return offset <= Math.Min(ipEnd, frame.Length);
            }
        }
    }

    /// <summary>"127.0.0.1:9999" or "[::1]:9999".</summary>
    public static string Format(UInt128 address, bool v6, ushort port)
    {
        if (!v6)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b, (uint)address);
            return $"{new IPAddress(b)}:{port}";
        }

        Span<byte> a = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(a, address);
        return $"[{new IPAddress(a)}]:{port}";
    }
}
