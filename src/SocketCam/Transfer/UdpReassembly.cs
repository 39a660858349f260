using System.Numerics;

namespace SocketCam.Transfer;

/// <summary>What <see cref="UdpReassembly.Add"/> did with a part.</summary>
internal enum PartOutcome
{
    /// <summary>A part not seen before: copied into place.</summary>
    Stored,

    /// <summary>Already received: dropped.</summary>
    Duplicate,

    /// <summary>Not of this transfer (another id, or a different count, length or checksum): dropped.</summary>
    Foreign,
}

/// <summary>
/// The parts of one UDP transfer, received in any order: the file's bytes (allocated once, at the size the first valid
/// DATA announced, which the caller has compared with its cap) and a bitmap of the indexes received.
/// </summary>
internal sealed class UdpReassembly
{
    private readonly byte[] _data;
    private readonly ulong[] _received;

    /// <summary>Starts a transfer from its first valid DATA header. The caller has checked the length against its cap.</summary>
    public UdpReassembly(in UdpChunkHeader first, long maxFileBytes)
    {
        if (first.TotalLength > maxFileBytes || first.TotalLength > TransferProtocol.MaxFileBytesLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(first), first.TotalLength, $"above the cap of {maxFileBytes} bytes");
        }

        TransferId = first.TransferId;
        Count = first.Count;
        TotalLength = first.TotalLength;
        Crc32 = first.Crc32;
        _data = GC.AllocateUninitializedArray<byte>((int)first.TotalLength);
        _received = new ulong[(Count + 63) / 64];
    }

    public ulong TransferId { get; }

    public int Count { get; }

    public long TotalLength { get; }

    /// <summary>The CRC-32 the sender announced for the whole file.</summary>
    public uint Crc32 { get; }

    public int Received { get; private set; }

    public int Missing => Count - Received;

    public long Duplicates { get; private set; }

    public bool IsComplete => Received == Count;

    /// <summary>The file, complete only when <see cref="IsComplete"/>.</summary>
    public ReadOnlyMemory<byte> Data => _data;

    /// <summary>Stores one part (a header that <see cref="UdpChunkHeader.TryParse"/> accepted, and its payload).</summary>
    public PartOutcome Add(in UdpChunkHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.TransferId != TransferId || header.Count != Count || header.TotalLength != TotalLength || header.Crc32 != Crc32
            || payload.Length != TransferProtocol.PartLength(TotalLength, header.Index))
        {
            return PartOutcome.Foreign;
        }

        int word = header.Index >> 6;
        ulong bit = 1UL << (header.Index & 63);
        if ((_received[word] & bit) != 0)
        {
            Duplicates++;
            return PartOutcome.Duplicate;
        }

        payload.CopyTo(_data.AsSpan(checked(header.Index * TransferProtocol.PartBytes)));
        _received[word] |= bit;
        Received++;
        return PartOutcome.Stored;
    }

    public bool Has(int index) => (_received[index >> 6] & (1UL << (index & 63))) != 0;

    /// <summary>True when the bytes received have the CRC-32 the sender announced.</summary>
    public bool ChecksumMatches() => IsComplete && global::SocketCam.Transfer.Crc32.Compute(_data) == Crc32;

    /// <summary>Fills <paramref name="ranges"/> with the lowest missing ranges, ascending; returns how many it wrote.</summary>
    public int GetMissingRanges(Span<PartRange> ranges)
    {
        int written = 0;
        int index = 0;
        while (written < ranges.Length && index < Count)
        {
            int first = NextIndex(index, received: false);
            if (first >= Count)
            {
                break;
            }

            int end = Math.Min(NextIndex(first, received: true), Count);
            ranges[written++] = new PartRange(first, end - first);
            index = end;
        }

        return written;
    }

    /// <summary>Every missing range (for the final error message).</summary>
    public IReadOnlyList<PartRange> MissingRanges(int max = int.MaxValue)
    {
        var ranges = new PartRange[Math.Min(max, Missing)];
        int n = GetMissingRanges(ranges);
        return ranges.AsSpan(0, n).ToArray();
    }

    public string DescribeMissing() => PartRange.DescribeMissing(Missing, Count, MissingRanges(64));

    /// <summary>The first index at or after <paramref name="start"/> whose bit is <paramref name="received"/> (Count or more if none).</summary>
    private int NextIndex(int start, bool received)
    {
        int word = start >> 6;
        if (word >= _received.Length)
        {
            return Count;
        }

        ulong bits = received ? _received[word] : ~_received[word];
        bits &= ulong.MaxValue << (start & 63);
        while (bits == 0)
        {
            if (++word >= _received.Length)
            {
                return Count;
            }

            bits = received ? _received[word] : ~_received[word];
        }

        return (word << 6) + BitOperations.TrailingZeroCount(bits);
    }
}
