using System.Buffers.Binary;

namespace SocketCam.Transfer;

/// <summary>The control datagrams of a UDP transfer: NACK, ACK, DONE and ABORT (docs/PROTOCOL.md §2.1).</summary>
internal static class TransferControl
{
    /// <summary>Writes a NACK for up to <see cref="TransferProtocol.MaxNackRanges"/> ranges; returns its length.</summary>
    public static int WriteNack(Span<byte> destination, ulong transferId, int missing, ushort sequence, ReadOnlySpan<PartRange> ranges)
    {
        ArgumentOutOfRangeException.ThrowIfZero(ranges.Length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ranges.Length, TransferProtocol.MaxNackRanges);
        TransferProtocol.WriteDatagramPrefix(destination, TransferMessageType.Nack, transferId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], (uint)missing);
        BinaryPrimitives.WriteUInt16BigEndian(destination[20..], (ushort)ranges.Length);
        BinaryPrimitives.WriteUInt16BigEndian(destination[22..], sequence);
        int offset = TransferProtocol.NackHeaderBytes;
        foreach (PartRange range in ranges)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[offset..], (uint)range.First);
            BinaryPrimitives.WriteUInt32BigEndian(destination[(offset + 4)..], (uint)range.Length);
            offset += TransferProtocol.NackRangeBytes;
        }

        return offset;
    }

    /// <summary>
    /// Parses a NACK of a transfer of <paramref name="count"/> parts into <paramref name="ranges"/> (room for
    /// <see cref="TransferProtocol.MaxNackRanges"/>). False for anything inconsistent: a length that is not
    /// 24 + 8 × range_count, no range, an empty, overlapping, unordered or out-of-range range, a missing total below
    /// what the ranges cover or above the count.
    /// </summary>
    public static bool TryParseNack(ReadOnlySpan<byte> datagram, int count, Span<PartRange> ranges, out int missing, out ushort sequence, out int rangeCount)
    {
        missing = 0;
        sequence = 0;
        rangeCount = 0;
        if (!TransferProtocol.TryReadDatagramPrefix(datagram, out TransferMessageType type, out _) || type != TransferMessageType.Nack
            || datagram.Length < TransferProtocol.NackHeaderBytes)
        {
            return false;
        }

        uint missingField = BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]);
        int n = BinaryPrimitives.ReadUInt16BigEndian(datagram[20..]);
        if (n == 0 || n > TransferProtocol.MaxNackRanges || n > ranges.Length
            || datagram.Length != TransferProtocol.NackHeaderBytes + (n * TransferProtocol.NackRangeBytes)
            || missingField > (uint)count)
        {
            return false;
        }

        long nextFree = 0;
        long covered = 0;
        for (int i = 0; i < n; i++)
        {
            int offset = TransferProtocol.NackHeaderBytes + (i * TransferProtocol.NackRangeBytes);
            uint first = BinaryPrimitives.ReadUInt32BigEndian(datagram[offset..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(datagram[(offset + 4)..]);
            if (length == 0 || first < nextFree || (long)first + length > count)
            {
                return false;
            }

            ranges[i] = new PartRange((int)first, (int)length);
            nextFree = (long)first + length;
            covered += length;
        }

        if (covered > missingField)
        {
            return false;
        }

        missing = (int)missingField;
        sequence = BinaryPrimitives.ReadUInt16BigEndian(datagram[22..]);
        rangeCount = n;
        return true;
    }

    public static int WriteAck(Span<byte> destination, ulong transferId, long totalLength, uint crc32)
    {
        TransferProtocol.WriteDatagramPrefix(destination, TransferMessageType.Ack, transferId);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], (ulong)totalLength);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], crc32);
        BinaryPrimitives.WriteUInt32BigEndian(destination[28..], 0);
        return TransferProtocol.AckBytes;
    }

    public static bool TryParseAck(ReadOnlySpan<byte> datagram, out long totalLength, out uint crc32)
    {
        totalLength = 0;
        crc32 = 0;
        if (!TransferProtocol.TryReadDatagramPrefix(datagram, out TransferMessageType type, out _) || type != TransferMessageType.Ack
            || datagram.Length != TransferProtocol.AckBytes)
        {
            return false;
        }

        ulong total = BinaryPrimitives.ReadUInt64BigEndian(datagram[16..]);
        if (total > long.MaxValue)
        {
            return false;
        }

        totalLength = (long)total;
        crc32 = BinaryPrimitives.ReadUInt32BigEndian(datagram[24..]);
        return true;
    }

    public static int WriteDone(Span<byte> destination, ulong transferId)
    {
        TransferProtocol.WriteDatagramPrefix(destination, TransferMessageType.Done, transferId);
        return TransferProtocol.DoneBytes;
    }

    public static bool IsDone(ReadOnlySpan<byte> datagram) =>
        TransferProtocol.TryReadDatagramPrefix(datagram, out TransferMessageType type, out _)
        && type == TransferMessageType.Done && datagram.Length == TransferProtocol.DoneBytes;

    public static int WriteAbort(Span<byte> destination, ulong transferId, TransferCode code, ulong value)
    {
        TransferProtocol.WriteDatagramPrefix(destination, TransferMessageType.Abort, transferId);
        BinaryPrimitives.WriteUInt16BigEndian(destination[16..], (ushort)code);
        BinaryPrimitives.WriteUInt16BigEndian(destination[18..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], 0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], value);
        return TransferProtocol.AbortBytes;
    }

    public static bool TryParseAbort(ReadOnlySpan<byte> datagram, out TransferCode code, out ulong value)
    {
        code = default;
        value = 0;
        if (!TransferProtocol.TryReadDatagramPrefix(datagram, out TransferMessageType type, out _) || type != TransferMessageType.Abort
            || datagram.Length != TransferProtocol.AbortBytes)
        {
            return false;
        }

        code = (TransferCode)BinaryPrimitives.ReadUInt16BigEndian(datagram[16..]);
        value = BinaryPrimitives.ReadUInt64BigEndian(datagram[24..]);
        return true;
    }
}
