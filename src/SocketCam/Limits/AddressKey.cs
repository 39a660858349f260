using System.Net;
using System.Net.Sockets;

namespace SocketCam.Limits;

/// <summary>
/// Who "one address" is for the per-address limits: an IPv4 address (IPv4-mapped IPv6 included) as it is, an IPv6 address
/// by its /64 prefix (one home or host gets a whole /64, so counting single IPv6 addresses would not limit anybody).
/// </summary>
public readonly record struct AddressKey(UInt128 Value, bool IsV6)
{
    public static AddressKey From(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return new AddressKey(((UInt128)bytes[0] << 24) | ((UInt128)bytes[1] << 16) | ((UInt128)bytes[2] << 8) | bytes[3], false);
        }

        UInt128 value = 0;
        for (int i = 0; i < 8 && i < written; i++)
        {
            value = (value << 8) | bytes[i];
        }

        return new AddressKey(value, true);
    }

    /// <summary>The key of a socket's remote end, or null for a peer without an IP address (a Unix socket).</summary>
    public static AddressKey? Of(EndPoint? remote) => remote is IPEndPoint ip ? From(ip.Address) : null;

    /// <summary>The key of an accepted socket's peer; null for a Unix peer, or one that reset before it was looked at (it fails at its first read).</summary>
    public static AddressKey? OfPeer(Socket socket)
    {
        try
        {
            return Of(socket.RemoteEndPoint);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    public override string ToString()
    {
        if (!IsV6)
        {
            uint v = (uint)Value;
            return $"{v >> 24}.{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}";
        }

        Span<byte> bytes = stackalloc byte[16];
        ulong prefix = (ulong)Value;
        for (int i = 0; i < 8; i++)
        {
            bytes[i] = (byte)(prefix >> (56 - (8 * i)));
        }

        return new IPAddress(bytes) + "/64";
    }
}
