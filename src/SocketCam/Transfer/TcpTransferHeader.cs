using System.Buffers.Binary;

namespace SocketCam.Transfer;

/// <summary>What the first bytes of a TCP transfer turned out to be.</summary>
internal enum TcpOfferStatus
{
    /// <summary>A version-1 TCP_OFFER.</summary>
    Valid,

    /// <summary>Not an image transfer at all (another program, a port scan): close and ignore.</summary>
    Foreign,

    /// <summary>A SocketCam image transfer of a version not spoken here: answer <see cref="TransferCode.UnsupportedVersion"/>.</summary>
    UnsupportedVersion,
}

/// <summary>TCP_OFFER (24 bytes, then the file) and TCP_RESULT (16 bytes), docs/PROTOCOL.md §2.1.</summary>
internal static class TcpTransferHeader
{
    public static void WriteOffer(Span<byte> destination, long length, uint crc32)
    {
        TransferProtocol.WritePrefix(destination, TransferMessageType.TcpOffer);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], (ulong)length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], crc32);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], 0);
    }

    /// <summary>
    /// Reads a TCP_OFFER. The length is returned as sent (unsigned): the caller compares it with its cap before it
    /// allocates anything.
    /// </summary>
    public static TcpOfferStatus TryParseOffer(ReadOnlySpan<byte> header, out ulong length, out uint crc32)
    {
        length = 0;
        crc32 = 0;
        if (header.Length < TransferProtocol.TcpOfferBytes || BinaryPrimitives.ReadUInt32BigEndian(header) != TransferProtocol.Magic)
        {
            return TcpOfferStatus.Foreign;
        }

        if (header[4] != TransferProtocol.Version)
        {
            return TcpOfferStatus.UnsupportedVersion;
        }

        if (header[5] != (byte)TransferMessageType.TcpOffer)
        {
            return TcpOfferStatus.Foreign;
        }

        length = BinaryPrimitives.ReadUInt64BigEndian(header[8..]);
        crc32 = BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
        return TcpOfferStatus.Valid;
    }

    public static void WriteResult(Span<byte> destination, TransferCode code, ulong value)
    {
        TransferProtocol.WritePrefix(destination, TransferMessageType.TcpResult);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)code);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], value);
    }

    public static bool TryParseResult(ReadOnlySpan<byte> result, out TransferCode code, out ulong value)
    {
        code = default;
        value = 0;
        if (result.Length < TransferProtocol.TcpResultBytes || BinaryPrimitives.ReadUInt32BigEndian(result) != TransferProtocol.Magic
            || result[4] != TransferProtocol.Version || result[5] != (byte)TransferMessageType.TcpResult)
        {
            return false;
        }

        code = (TransferCode)BinaryPrimitives.ReadUInt16BigEndian(result[6..]);
        value = BinaryPrimitives.ReadUInt64BigEndian(result[8..]);
        return true;
    }
}
