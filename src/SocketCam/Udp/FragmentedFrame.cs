using SocketCam.Codecs;
using SocketCam.Media;
using SocketCam.Protocol;

namespace SocketCam.Udp;

/// <summary>Splits one frame into its FRAGMENT datagrams (docs/PROTOCOL.md §2.0).</summary>
internal static class FrameFragmenter
{
    /// <summary>
    /// Builds every datagram of the frame in one pooled buffer: the data fragments of each parity group, each group
    /// followed by its parity (<paramref name="group"/> = G, 0 = no parity). The caller owns the result and disposes it.
    /// </summary>
    public static FragmentedFrame Fragment(ulong sessionId, uint frameId, in VideoFrameHeader header, ReadOnlySpan<byte> data, int group)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(group, byte.MaxValue);
        if (header.Width is < 1 or > FrameLimits.MaxDimension || header.Height is < 1 or > FrameLimits.MaxDimension)
        {
            throw new ArgumentException($"Frame size {header.Width}x{header.Height} is outside 1..{FrameLimits.MaxDimension}.", nameof(header));
        }

        if (header.Codec is not (CodecId.Jpeg or CodecId.RawBgr24 or CodecId.H264)
            || (header.Codec == CodecId.RawBgr24 && data.Length != (long)header.Width * header.Height * 3))
        {
            throw new ArgumentException($"A {header.Codec} frame of {header.Width}x{header.Height} cannot have {data.Length} bytes.", nameof(data));
        }

        int dataCount = UdpWire.DataCount(data.Length);
        int parityCount = UdpWire.ParityCount(dataCount, group);
        if (dataCount + parityCount > UdpWire.MaxFragmentsPerFrame)
        {
            throw new ArgumentException($"A frame of {data.Length} bytes needs more than {UdpWire.MaxFragmentsPerFrame} fragments.", nameof(data));
        }

        byte[] buffer = FrameBufferPool.Shared.Rent((dataCount + parityCount) * FragmentedFrame.Stride);
        var fragment = new FragmentHeader(
            frameId, 0, (ushort)dataCount, (byte)group, header.Codec, (ushort)header.Width, (ushort)header.Height, 0,
            (uint)data.Length, header.Sequence, header.CaptureMicros);
        for (int i = 0; i < dataCount; i++)
        {
            int length = UdpWire.DataPayloadLength(data.Length, i);
            Span<byte> slot = buffer.AsSpan(i * FragmentedFrame.Stride, FragmentedFrame.Stride);
            UdpWire.WriteFragmentHeader(slot, sessionId, fragment with { Index = (ushort)i, PayloadLength = (ushort)length });
            data.Slice(i * UdpWire.FragmentPayload, length).CopyTo(slot[UdpWire.FragmentHeaderSize..]);
        }

        for (int g = 0; g < parityCount; g++)
        {
            int first = g * group;
            int end = Math.Min(first + group, dataCount);
            int length = UdpWire.ParityPayloadLength(data.Length, group, g);
            Span<byte> slot = buffer.AsSpan((dataCount + g) * FragmentedFrame.Stride, FragmentedFrame.Stride);
            UdpWire.WriteFragmentHeader(slot, sessionId, fragment with { Index = (ushort)(dataCount + g), PayloadLength = (ushort)length });

            // XOR straight from the picture: it is contiguous, and the first payload of a group is its longest.
            Span<byte> parity = slot.Slice(UdpWire.FragmentHeaderSize, length);
            data.Slice(first * UdpWire.FragmentPayload, length).CopyTo(parity);
            for (int i = first + 1; i < end; i++)
            {
                XorParity.XorInto(parity, data.Slice(i * UdpWire.FragmentPayload, UdpWire.DataPayloadLength(data.Length, i)));
            }
        }

        return new FragmentedFrame(buffer, frameId, header, data.Length, dataCount, group);
    }
}

/// <summary>
/// The datagrams of one frame, in one pooled buffer at a fixed stride of 1200 bytes (slot = fragment index). Positions
/// (<see cref="this[int]"/>) are the send order: each group's data fragments, then that group's parity. Not thread-safe;
/// disposing returns the buffer, after which nothing may be read from it.
/// </summary>
internal sealed class FragmentedFrame : IDisposable
{
    internal const int Stride = UdpWire.MaxDatagram;

    private byte[]? _buffer;

    internal FragmentedFrame(byte[] buffer, uint frameId, in VideoFrameHeader header, int totalLength, int dataCount, int group)
    {
        _buffer = buffer;
        FrameId = frameId;
        Header = header;
        TotalLength = totalLength;
        DataCount = dataCount;
        Group = group;
        ParityCount = UdpWire.ParityCount(dataCount, group);
    }

    public uint FrameId { get; }

    public VideoFrameHeader Header { get; }

    public int TotalLength { get; }

    public int DataCount { get; }

    public int ParityCount { get; }

    /// <summary>Parity group size G (0 = no parity).</summary>
    public int Group { get; }

    /// <summary>Datagrams in all: data plus parity.</summary>
    public int Count => DataCount + ParityCount;

    public bool IsDisposed => _buffer is null;

    /// <summary>The datagram to send at <paramref name="position"/> (0 .. Count-1) in send order.</summary>
    public ReadOnlyMemory<byte> this[int position] => Datagram(position);

    public ReadOnlyMemory<byte> Datagram(int position) => Fragment(IndexAt(position));

    /// <summary>Data fragment <paramref name="index"/> (0 .. DataCount-1), e.g. to answer a NACK.</summary>
    public ReadOnlyMemory<byte> DataFragment(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)DataCount, nameof(index));
        return Fragment(index);
    }

    /// <summary>The fragment with wire index <paramref name="fragmentIndex"/> (data, then parity).</summary>
    public ReadOnlyMemory<byte> Fragment(int fragmentIndex)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)fragmentIndex, (uint)Count, nameof(fragmentIndex));
        byte[] buffer = _buffer ?? throw new ObjectDisposedException(nameof(FragmentedFrame));
        int payload = fragmentIndex < DataCount
            ? UdpWire.DataPayloadLength(TotalLength, fragmentIndex)
            : UdpWire.ParityPayloadLength(TotalLength, Group, fragmentIndex - DataCount);
        return buffer.AsMemory(fragmentIndex * Stride, UdpWire.FragmentHeaderSize + payload);
    }

    /// <summary>The wire index of the datagram sent at <paramref name="position"/>.</summary>
    public int IndexAt(int position)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)position, (uint)Count, nameof(position));
        if (Group == 0)
        {
            return position;
        }

        // Every group but the last is full (G data + 1 parity), so the group follows from the position alone.
        int g = position / (Group + 1);
        int r = position % (Group + 1);
        int dataInGroup = Math.Min(Group, DataCount - (g * Group));
        return r < dataInGroup ? (g * Group) + r : DataCount + g;
    }

    public void Dispose()
    {
        byte[]? buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            FrameBufferPool.Shared.Return(buffer);
        }
    }
}
