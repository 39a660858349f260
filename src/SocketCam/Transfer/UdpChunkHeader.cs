using System.Buffers.Binary;

namespace SocketCam.Transfer;

/// <summary>
/// The 40-byte header of a DATA datagram: one part of a file, with the whole transfer's description repeated so parts
/// can arrive in any order (docs/PROTOCOL.md §2.1).
/// </summary>
internal readonly record struct UdpChunkHeader(ulong TransferId, int Index, int Count, long TotalLength, uint Crc32, int PayloadLength)
{
    /// <summary>The header for part <paramref name="index"/> of a file of <paramref name="totalLength"/> bytes.</summary>
    public static UdpChunkHeader ForPart(ulong transferId, int index, long totalLength, uint crc32)
    {
        int count = checked((int)TransferProtocol.PartCount(totalLength));
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        return new UdpChunkHeader(transferId, index, count, totalLength, crc32, TransferProtocol.PartLength(totalLength, index));
    }

    /// <summary>Writes the header; the payload goes right after it.</summary>
    public void Write(Span<byte> destination)
    {
        TransferProtocol.WriteDatagramPrefix(destination, TransferMessageType.Data, TransferId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], (uint)Index);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], (uint)Count);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], (ulong)TotalLength);
        BinaryPrimitives.WriteUInt32BigEndian(destination[32..], Crc32);
        BinaryPrimitives.WriteUInt16BigEndian(destination[36..], (ushort)PayloadLength);
        BinaryPrimitives.WriteUInt16BigEndian(destination[38..], 0);
    }

    /// <summary>
    /// Parses a whole DATA datagram. False, with the reason, when it is not exactly a consistent DATA: the prefix is
    /// wrong, the count is not the one the total length implies, the index is out of range, or the payload length
    /// disagrees with the total length or with the datagram's own length. Nothing is allocated; the total length is
    /// not compared with any cap here (the caller does that before it allocates).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, out UdpChunkHeader header, out ReadOnlySpan<byte> payload, out string? error)
    {
        header = default;
        payload = default;
        if (!TransferProtocol.TryReadDatagramPrefix(datagram, out TransferMessageType type, out ulong transferId) || type != TransferMessageType.Data)
        {
            error = "not a DATA datagram";
            return false;
        }

        if (datagram.Length < TransferProtocol.DataHeaderBytes)
        {
            error = $"{datagram.Length} bytes is shorter than a DATA header";
            return false;
        }

        uint index = BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]);
        uint count = BinaryPrimitives.ReadUInt32BigEndian(datagram[20..]);
        ulong total = BinaryPrimitives.ReadUInt64BigEndian(datagram[24..]);
        uint crc = BinaryPrimitives.ReadUInt32BigEndian(datagram[32..]);
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(datagram[36..]);
        if (total > long.MaxValue || (ulong)TransferProtocol.PartCount((long)total) != count || count > int.MaxValue)
        {
            error = $"count {count} does not match the total length {total}";
            return false;
        }

        if (index >= count)
        {
            error = $"index {index} is not below the count {count}";
            return false;
        }

        if (payloadLength != TransferProtocol.PartLength((long)total, index))
        {
            error = $"payload length {payloadLength} does not match part {index} of {total} bytes";
            return false;
        }

        if (datagram.Length != TransferProtocol.DataHeaderBytes + payloadLength)
        {
            error = $"a {datagram.Length}-byte datagram does not hold a {payloadLength}-byte payload";
            return false;
        }

        header = new UdpChunkHeader(transferId, (int)index, (int)count, (long)total, crc, payloadLength);
        payload = datagram[TransferProtocol.DataHeaderBytes..];
        error = null;
        return true;
    }
}
