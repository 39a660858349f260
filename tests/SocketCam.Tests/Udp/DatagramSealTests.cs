using System.Buffers.Binary;
using SocketCam.Diagnostics;
using SocketCam.Protocol;
using SocketCam.Udp;

namespace SocketCam.Tests.Udp;

/// <summary>The seal of encrypted UDP sessions (docs/PROTOCOL.md §2.0 "Encrypted sessions") and its replay window, without sockets.</summary>
public sealed class DatagramSealTests
{
    private static readonly UdpSessionKeys Keys = UdpSessionKeys.Create(9999);

    private static byte[] Ping(uint id = 1)
    {
        byte[] ping = new byte[UdpWire.PingSize];
        UdpWire.WritePing(ping, Keys.SessionId, new PingMessage(id, 123_456));
        return ping;
    }

    private static byte[] Seal(DatagramSeal seal, byte[] plain)
    {
        byte[] sealedDatagram = new byte[plain.Length + DatagramSeal.Overhead];
        Assert.Equal(sealedDatagram.Length, seal.Seal(plain, sealedDatagram));
        return sealedDatagram;
    }

    [Fact]
    public void A_sealed_datagram_opens_to_the_same_bytes_on_the_other_side_only()
    {
        using DatagramSeal client = DatagramSeal.ForClient(Keys);
        using DatagramSeal hub = DatagramSeal.ForHub(Keys);
        byte[] plain = Ping();
        byte[] sealedDatagram = Seal(client, plain);

        Assert.True(DatagramSeal.IsMarkedSealed(sealedDatagram));
        Assert.Equal(plain[..6], sealedDatagram[..6]);                       // the prefix stays readable (type, id)
        Assert.Equal(plain[8..16], sealedDatagram[8..16]);
        Assert.NotEqual(plain[16..], sealedDatagram[24..(24 + plain.Length - 16)]); // the body does not

        byte[] opened = new byte[UdpWire.MaxDatagram];
        Assert.True(hub.TryOpen(sealedDatagram, opened, out int length));
        Assert.Equal(plain, opened[..length]);
        Assert.True(UdpWire.TryReadPing(opened.AsSpan(0, length), out PingMessage ping));
        Assert.Equal(1u, ping.Id);

        // Sealed by the client for the hub: the client's own opener (the hub's direction) refuses it.
        using DatagramSeal otherClient = DatagramSeal.ForClient(Keys);
        Assert.False(otherClient.TryOpen(Seal(client, plain), opened, out _));
    }

    [Fact]
    public void Any_flipped_bit_is_refused_and_counted_and_nothing_is_left_in_the_buffer()
    {
        using DatagramSeal client = DatagramSeal.ForClient(Keys);
        using DatagramSeal hub = DatagramSeal.ForHub(Keys);
        byte[] sealedDatagram = Seal(client, Ping());
        byte[] opened = new byte[UdpWire.MaxDatagram];
        for (int bit = 0; bit < sealedDatagram.Length * 8; bit++)
        {
            byte[] flipped = (byte[])sealedDatagram.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(hub.TryOpen(flipped, opened, out int length), $"bit {bit}");
            Assert.Equal(0, length);
        }

        Assert.True(opened.AsSpan().IndexOfAnyExcept((byte)0) < 0, "a refused datagram leaves nothing readable");
        Assert.Equal(sealedDatagram.Length * 8, hub.Forged + hub.Replayed);

        // The untouched datagram still opens: no forgery moved the window.
        Assert.True(hub.TryOpen(sealedDatagram, opened, out _));
    }

    [Fact]
    public void A_wrong_key_a_truncated_or_an_unsealed_datagram_is_refused()
    {
        using DatagramSeal hub = DatagramSeal.ForHub(Keys);
        UdpSessionKeys other = Keys with { ClientKey = UdpSessionKeys.Create(1).ClientKey };
        using DatagramSeal stranger = DatagramSeal.ForClient(other);
        byte[] opened = new byte[UdpWire.MaxDatagram];
        Assert.False(hub.TryOpen(Seal(stranger, Ping()), opened, out _));
        Assert.False(hub.TryOpen(Ping(), opened, out _));                     // plain: no sealed bit
        using DatagramSeal client = DatagramSeal.ForClient(Keys);
        byte[] sealedDatagram = Seal(client, Ping());
        Assert.False(hub.TryOpen(sealedDatagram[..(UdpWire.PrefixSize + DatagramSeal.Overhead - 1)], opened, out _));
        Assert.False(hub.TryOpen(sealedDatagram[..^1], opened, out _));
        Assert.Equal(4, hub.Forged);
        Assert.Equal(0, hub.Replayed);
    }

    [Fact]
    public void A_replayed_datagram_and_one_too_far_behind_are_refused_while_late_ones_inside_the_window_open()
    {
        using DatagramSeal client = DatagramSeal.ForClient(Keys);
        using DatagramSeal hub = DatagramSeal.ForHub(Keys);
        byte[][] sent = Enumerable.Range(1, ReplayWindow.Size + 10).Select(i => Seal(client, Ping((uint)i))).ToArray();
        byte[] opened = new byte[UdpWire.MaxDatagram];

        Assert.True(hub.TryOpen(sent[0], opened, out _));
        Assert.False(hub.TryOpen(sent[0], opened, out _));                    // replayed
        Assert.Equal(1, hub.Replayed);

        // Out of order inside the window: counter 10 before 5.
        Assert.True(hub.TryOpen(sent[9], opened, out _));
        Assert.True(hub.TryOpen(sent[4], opened, out _));
        Assert.False(hub.TryOpen(sent[4], opened, out _));

        // The window slides: after the last, counter 2 is 1032 behind (too old), counter 20 is inside and fresh.
        Assert.True(hub.TryOpen(sent[^1], opened, out _));
        Assert.False(hub.TryOpen(sent[1], opened, out _));
        Assert.True(hub.TryOpen(sent[19], opened, out _));
        Assert.Equal(3, hub.Replayed);
        Assert.Equal(0, hub.Forged);
    }

    [Fact]
    public void The_replay_window_remembers_exactly_the_last_1024_counters()
    {
        var window = new ReplayWindow();
        Assert.False(window.IsFresh(0));
        var random = new Random(5);
        var seen = new HashSet<ulong>();
        ulong highest = 0;
        for (int i = 0; i < 20_000; i++)
        {
            // Mostly forward, sometimes back, sometimes a jump.
            ulong counter = random.Next(10) switch
            {
                0 => highest + (ulong)random.Next(1, 3000),
                < 3 => highest > 1200 ? highest - (ulong)random.Next(0, 1200) : 1 + (ulong)random.Next(0, (int)highest + 1),
                _ => highest + 1,
            };
            bool expected = counter != 0 && !seen.Contains(counter) && (counter > highest || highest - counter < ReplayWindow.Size);
            Assert.Equal(expected, window.IsFresh(counter));
            if (expected)
            {
                window.Accept(counter);
                seen.Add(counter);
                highest = Math.Max(highest, counter);
            }
        }

        Assert.Equal(highest, window.Highest);
    }

    [Fact]
    public void Keys_round_trip_through_UDP_KEY_and_a_sealed_fragment_fits_1200_bytes()
    {
        byte[] wire = new byte[UdpSessionKeys.WireSize];
        Keys.Write(wire);
        Assert.True(UdpSessionKeys.TryRead(wire, out UdpSessionKeys? back));
        Assert.Equal(Keys.SessionId, back!.SessionId);
        Assert.Equal(Keys.ClientKey, back.ClientKey);
        Assert.Equal(Keys.HubKey, back.HubKey);
        Assert.Equal((Keys.ClientSalt, Keys.HubSalt, Keys.UdpPort), (back.ClientSalt, back.HubSalt, back.UdpPort));
        Assert.False(UdpSessionKeys.TryRead(wire[..^1], out _));
        BinaryPrimitives.WriteUInt64BigEndian(wire, 0);
        Assert.False(UdpSessionKeys.TryRead(wire, out _));

        Assert.Equal(UdpWire.MaxDatagram, UdpWire.FragmentHeaderSize + UdpWire.FragmentPayload + DatagramSeal.Overhead);
        using DatagramSeal client = DatagramSeal.ForClient(Keys);
        byte[][] fragments = UdpTesting.Datagrams(1, UdpTesting.Bytes(5000), 2);
        Assert.All(fragments, f => Assert.True(Seal(client, f).Length <= UdpWire.MaxDatagram));
    }

    [Fact]
    public void Sealing_and_opening_allocate_nothing()
    {
        using DatagramSeal client = DatagramSeal.ForClient(Keys);
        using DatagramSeal hub = DatagramSeal.ForHub(Keys);
        byte[] plain = UdpTesting.Datagrams(1, UdpTesting.Bytes(UdpWire.FragmentPayload), 0)[0];
        byte[] sealedDatagram = new byte[UdpWire.MaxDatagram];
        byte[] opened = new byte[UdpWire.MaxDatagram];
        for (int i = 0; i < 100; i++)
        {
            hub.TryOpen(sealedDatagram.AsSpan(0, client.Seal(plain, sealedDatagram)), opened, out _);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            int n = client.Seal(plain, sealedDatagram);
            Assert.True(hub.TryOpen(sealedDatagram.AsSpan(0, n), opened, out _));
            Assert.False(hub.TryOpen(sealedDatagram.AsSpan(0, n), opened, out _)); // a replay: refused before decrypting
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
