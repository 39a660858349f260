using System.Buffers.Binary;
using System.Security.Cryptography;

namespace SocketCam.Udp;

/// <summary>
/// What UDP_KEY carries over TLS (docs/PROTOCOL.md §2.0 "Encrypted sessions"): the session id a sealed HELLO names,
/// the hub's UDP port, and per direction a 32-byte AES-256-GCM key and a 4-byte nonce salt. Made from the system's
/// CSPRNG on the hub; it never travels outside TLS.
/// </summary>
internal sealed record UdpSessionKeys(ulong SessionId, ushort UdpPort, byte[] ClientKey, byte[] HubKey, uint ClientSalt, uint HubSalt)
{
    public const int KeySize = 32;

    /// <summary>The UDP_KEY payload: id (8), port (2), reserved (2), two keys (32 each), two salts (4 each).</summary>
    public const int WireSize = 84;

    public static UdpSessionKeys Create(ushort udpPort)
    {
        Span<byte> random = stackalloc byte[8 + 8];
        ulong id;
        do
        {
            RandomNumberGenerator.Fill(random);
            id = BinaryPrimitives.ReadUInt64BigEndian(random);
        }
        while (id == 0); // 0 is a plain HELLO's id

        return new UdpSessionKeys(
            id,
            udpPort,
            RandomNumberGenerator.GetBytes(KeySize),
            RandomNumberGenerator.GetBytes(KeySize),
            BinaryPrimitives.ReadUInt32BigEndian(random[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(random[12..]));
    }

    public int Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, SessionId);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], UdpPort);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], 0);
        ClientKey.CopyTo(destination[12..]);
        HubKey.CopyTo(destination[44..]);
        BinaryPrimitives.WriteUInt32BigEndian(destination[76..], ClientSalt);
        BinaryPrimitives.WriteUInt32BigEndian(destination[80..], HubSalt);
        return WireSize;
    }

    /// <summary>Exactly 84 bytes with a session id and a port that are not 0.</summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out UdpSessionKeys? keys)
    {
        keys = null;
        if (payload.Length != WireSize)
        {
            return false;
        }

        ulong id = BinaryPrimitives.ReadUInt64BigEndian(payload);
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(payload[8..]);
        if (id == 0 || port == 0)
        {
            return false;
        }

        keys = new UdpSessionKeys(
            id,
            port,
            payload.Slice(12, KeySize).ToArray(),
            payload.Slice(44, KeySize).ToArray(),
            BinaryPrimitives.ReadUInt32BigEndian(payload[76..]),
            BinaryPrimitives.ReadUInt32BigEndian(payload[80..]));
        return true;
    }
}
