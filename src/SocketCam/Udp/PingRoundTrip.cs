using System.Buffers.Binary;
using SocketCam.Protocol;

namespace SocketCam.Udp;

/// <summary>A UDP PING's `rtt_us` field (offset 20): the client's latest round trip, which the hub times its NACKs to a publisher by.</summary>
internal static class PingRoundTrip
{
    private const int Offset = 20;

    public static int Write(Span<byte> destination, ulong sessionId, in PingMessage ping, uint rttMicros)
    {
        int length = UdpWire.WritePing(destination, sessionId, ping);
        BinaryPrimitives.WriteUInt32BigEndian(destination[Offset..], rttMicros);
        return length;
    }

    /// <summary>The field of a PING that <see cref="UdpWire.TryReadPing"/> accepted.</summary>
    public static uint Read(ReadOnlySpan<byte> ping) => BinaryPrimitives.ReadUInt32BigEndian(ping[Offset..]);
}
