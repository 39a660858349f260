using System.Net;
using System.Net.Sockets;
using SocketCam.Sniff;

namespace SocketCam.Tests.Sniff;

/// <summary>The packet socket itself on the real loopback: a datagram sent here comes back with the kernel's arrival time.</summary>
public sealed class PacketSocketTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_datagram_on_loopback_comes_with_its_arrival_time_when_asked_for(bool timestamps)
    {
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)receiver.LocalEndPoint!).Port;
        using var socket = new PacketSocket("lo", 1 << 20, PacketFilter.ForPorts([port]), timestamps);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        sender.SendTo("arrival"u8, new IPEndPoint(IPAddress.Loopback, port));
        byte[] buffer = new byte[2048];
        int length = 0;
        PacketOrigin origin = default;
        for (int i = 0; i < 25 && length == 0; i++) // the receive wakes every 200 ms: 5 s in all
        {
            length = socket.Receive(buffer, out _, out origin);
        }

        long after = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1) * 1000;
        Assert.True(length > 0, "the datagram never reached the packet socket");
        Assert.True(PacketHeaders.TryParse(buffer.AsSpan(0, length), ethernet: true, out PacketHeaders h));
        Assert.Equal(port, h.DestinationPort);
        if (timestamps)
        {
            Assert.InRange(origin.ArrivalMicros, before, after);
        }
        else
        {
            Assert.Equal(0, origin.ArrivalMicros);
        }
    }
}
