using System.Buffers.Binary;
using SocketCam.Sniff;

namespace SocketCam.Tests.Sniff;

/// <summary>IPv6 frames as a kernel would hand them to sniff: extension headers are stepped over, fragments are not read.</summary>
public sealed class PacketHeadersTests
{
    private static readonly byte[] Payload = "SCUV and more"u8.ToArray();

    [Fact]
    public void A_plain_ipv6_udp_datagram_is_read()
    {
        Assert.True(PacketHeaders.TryParse(Ipv6(17, [], Udp()), ethernet: true, out PacketHeaders h));
        AssertUdp(h, 14 + 40);
    }

    [Fact]
    public void Hop_by_hop_and_destination_options_are_stepped_over_to_the_udp_header()
    {
        // Hop-by-hop of 8 bytes (next: destination options), destination options of 16 (next: UDP).
        byte[] frame = Ipv6(0, [Extension(60, 8), Extension(17, 16)], Udp());
        Assert.True(PacketHeaders.TryParse(frame, ethernet: true, out PacketHeaders h));
        AssertUdp(h, 14 + 40 + 8 + 16);
        Assert.Equal(Payload, frame.AsSpan(h.PayloadOffset, h.PayloadLength).ToArray());
    }

    [Fact]
    public void An_atomic_fragment_header_is_stepped_over_and_a_real_fragment_is_not_read()
    {
        Assert.True(PacketHeaders.TryParse(Ipv6(44, [Fragment(17, offset: 0, more: false)], Udp()), ethernet: true, out PacketHeaders h));
        AssertUdp(h, 14 + 40 + 8);
        Assert.False(PacketHeaders.TryParse(Ipv6(44, [Fragment(17, offset: 0, more: true)], Udp()), ethernet: true, out _));
        Assert.False(PacketHeaders.TryParse(Ipv6(44, [Fragment(17, offset: 185, more: false)], Udp()), ethernet: true, out _));
    }

    [Fact]
    public void Extension_headers_that_run_out_of_the_packet_or_never_end_are_not_read()
    {
        // A destination-options header claiming 2 KiB in a packet of a few dozen bytes.
        byte[] longer = Extension(17, 8);
        longer[1] = 255;
        Assert.False(PacketHeaders.TryParse(Ipv6(60, [longer], Udp()), ethernet: true, out _));
        // Cut inside the extension header itself.
        byte[] whole = Ipv6(0, [Extension(17, 8)], Udp());
        Assert.False(PacketHeaders.TryParse(whole.AsSpan(0, 14 + 40 + 4), ethernet: true, out _));
        // Nine hop-by-hop headers in a row: more than any real packet carries.
        byte[][] chain = [.. Enumerable.Range(0, 9).Select(_ => Extension(0, 8))];
        Assert.False(PacketHeaders.TryParse(Ipv6(0, chain, Udp()), ethernet: true, out _));
        byte[][] eight = [.. Enumerable.Range(0, 7).Select(_ => Extension(0, 8)), Extension(17, 8)];
        Assert.True(PacketHeaders.TryParse(Ipv6(0, eight, Udp()), ethernet: true, out _));
    }

    /// <param name="udpOffset">where the UDP header starts in the frame</param>
    private static void AssertUdp(PacketHeaders h, int udpOffset)
    {
        Assert.Equal(TransportKind.Udp, h.Transport);
        Assert.True(h.IsIPv6);
        Assert.Equal(UInt128.One, h.SourceAddress); // ::1
        Assert.Equal(40000, h.SourcePort);
        Assert.Equal(9999, h.DestinationPort);
        Assert.Equal(udpOffset + 8, h.PayloadOffset);
        Assert.Equal(Payload.Length, h.PayloadLength);
    }

    private static byte[] Udp()
    {
        byte[] u = new byte[8 + Payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(u, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), 9999);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        Payload.CopyTo(u, 8);
        return u;
    }

    /// <summary>A hop-by-hop, routing or destination-options header of <paramref name="length"/> bytes (a multiple of 8).</summary>
    private static byte[] Extension(byte next, int length)
    {
        byte[] e = new byte[length];
        e[0] = next;
        e[1] = (byte)((length / 8) - 1);
        return e;
    }

    private static byte[] Fragment(byte next, int offset, bool more)
    {
        byte[] f = new byte[8];
        f[0] = next;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(2), (ushort)((offset << 3) | (more ? 1 : 0)));
        return f;
    }

    private static byte[] Ipv6(byte next, byte[][] extensions, byte[] transport)
    {
        int payload = extensions.Sum(e => e.Length) + transport.Length;
        byte[] f = new byte[14 + 40 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x86DD);
        Span<byte> ip = f.AsSpan(14);
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)payload);
        ip[6] = next;
        ip[7] = 64;
        ip[23] = 1; // source ::1
        ip[39] = 1; // destination ::1
        int at = 40;
        foreach (byte[] e in extensions)
        {
            e.CopyTo(ip[at..]);
            at += e.Length;
        }

        transport.CopyTo(ip[at..]);
        return f;
    }
}
